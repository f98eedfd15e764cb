using Microsoft.Extensions.Time.Testing;
using ModelMix.Budgets;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// <see cref="BudgetLeases"/>' retries and closing paths (the <c>budgets</c> run's real gaps, docs/testing.md "Eleventh
/// session (budgets …)"): a lease closed between a request's take and its grow, a grow refused for a lease never
/// created, maintenance and the stop racing a request, retired leases on stop, and cancellation between leases.
/// Over an in-memory lease store that answers at once (so a request runs to its end inside one call) unless a call is
/// gated, and a clock that runs a hook on its next reading (the lease pool reads it between finding a request's lease
/// and taking from it): what another request, a tick or the stop does at that point happens under the request's feet,
/// deterministically. One cap of $1 in the store; amounts in nano-dollars (1 USD = 10⁹).
/// </summary>
public sealed class BudgetLeasesGapTests
{
    private const long Usd = 1_000_000_000L;
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);
    private readonly HookClock _time = new(new DateTimeOffset(2026, 3, 14, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeLeaseStore _store = new(capNanos: 1 * Usd);

    private static BudgetLimit Daily(string key = "k1") => new("key:" + key, "key '" + key + "'", BudgetWindow.Day, 1m);

    private BudgetLeases NewLeases(decimal sizeUsd = 0.5m) => new(_store, "inst-1", sizeUsd, share: 1m, Ttl, _time);

    private ValueTask<BudgetLeaseHold?> Hold(BudgetLeases leases, decimal amountUsd, string key = "k1") =>
        leases.HoldAsync([Daily(key)], amountUsd, _time.Peek, CancellationToken.None);

    /// <summary>A hold that the in-memory store answers at once: it must end inside the call (no await pending).</summary>
    private BudgetLeaseHold? HoldNow(BudgetLeases leases, decimal amountUsd, string key = "k1")
    {
        var hold = Hold(leases, amountUsd, key).AsTask();
        Assert.True(hold.IsCompletedSuccessfully);
        return hold.Result;
    }

    [Fact]
    public async Task A_request_whose_lease_closes_under_it_three_times_in_a_row_gives_up_and_reserves_per_request()
    {
        // Slices of $0.1. Each time the request has found its lease and reads the clock, another request asks for $5
        // (refused: the lease is closed — the first never created, the next two retired) and a third takes $0.01 from a
        // new lease. The request finds its lease closed three times: it gives up (the caller reserves per request),
        // though the third new lease has room — the retries are bounded.
        var leases = NewLeases(sizeUsd: 0.1m);
        var others = new List<BudgetLeaseHold>();
        for (var i = 0; i < 3; i++)
        {
            _time.OnNextReading(() =>
            {
                Assert.Null(HoldNow(leases, 5m));
                others.Add(HoldNow(leases, 0.01m)!);
            });
        }

        Assert.Null(await Hold(leases, 0.01m));

        Assert.Equal(0, _time.HooksLeft);
        Assert.Equal(3, others.Select(hold => hold.LeaseId).Distinct().Count());
        Assert.Equal(1, leases.Count); // the third new lease, with room the request did not take

        // The request itself never grew a lease: the six grows are the three $5 refusals and the three new slices.
        Assert.Equal(
            new long?[] { null, Usd / 10, null, Usd / 10, null, Usd / 10 },
            _store.Grows.Select(grow => grow.Granted));
        // Held: the two retired leases keep $0.01 each for the requests on them, the last one its whole $0.1 slice.
        Assert.Equal((1 * Usd / 100) + (1 * Usd / 100) + (Usd / 10), _store.ReservedNanos);
    }

    [Fact]
    public async Task A_request_whose_lease_closed_under_it_twice_takes_from_the_slice_its_third_try_grew()
    {
        // Twice the request finds a new lease closed under it (another request's $5 first slice refused). Its third try
        // grows a new lease for it: a slice of min(max($0.5, $0.6), max($0.6, room $1 × 1)) = $0.6, which it must take —
        // falling back instead would leave that $0.6 held by this process and reserve $0.6 more per request, against
        // the $0.4 left under the $1 cap: refused, though the cap has room for it.
        var leases = NewLeases();
        for (var i = 0; i < 2; i++)
        {
            _time.OnNextReading(() => Assert.Null(HoldNow(leases, 5m)));
        }

        var hold = await Hold(leases, 0.6m);

        Assert.Equal(0, _time.HooksLeft);
        Assert.NotNull(hold);
        Assert.Equal(new long?[] { null, null, 6 * Usd / 10 }, _store.Grows.Select(grow => grow.Granted));
        Assert.Equal(_store.Grows[2].LeaseId, hold!.LeaseId);
        Assert.Equal(6 * Usd / 10, _store.ReservedNanos);
    }

    [Fact]
    public async Task A_refused_first_slice_leaves_no_lease_behind()
    {
        var leases = NewLeases();
        Assert.Null(await Hold(leases, 1.5m)); // more than the $1 cap
        Assert.Equal(0, leases.Count);
        Assert.Equal(0, _store.ReservedNanos);
    }

    [Fact]
    public async Task A_request_waiting_behind_a_refused_first_slice_takes_a_new_lease_and_the_refused_one_is_never_granted()
    {
        var leases = NewLeases();
        var gate = _store.GateNextGrow();
        var refused = Hold(leases, 5m); // its first slice is being asked for: it holds the lease's growth
        var waiting = Hold(leases, 0.01m); // finds the same lease, not created yet: waits for that growth
        Assert.False(refused.IsCompleted);
        Assert.False(waiting.IsCompleted);

        gate.SetResult(); // $5 > the $1 cap: refused, the lease is closed
        Assert.Null(await refused);
        var hold = await waiting;

        Assert.NotNull(hold);
        var refusedId = _store.Grows[0].LeaseId;
        Assert.NotEqual(refusedId, hold!.LeaseId);
        Assert.Equal( // the refused lease is never asked for again
            new (string, bool, long, long?)[] { (refusedId, true, 5 * Usd, null), (hold.LeaseId, true, Usd / 100, Usd / 2) },
            _store.Grows.Select(grow => (grow.LeaseId, grow.Create, grow.MinNanos, grow.Granted)));
        Assert.Equal(Usd / 2, _store.ReservedNanos); // one slice: min($0.5, room $1)
        Assert.Equal(1, leases.Count);
    }

    [Fact]
    public async Task A_request_waiting_behind_a_refused_growth_takes_a_new_lease_not_the_retired_one()
    {
        var leases = NewLeases();
        var running = HoldNow(leases, 0.1m); // slice $0.5, $0.4 free
        var gate = _store.GateNextGrow();
        var refused = Hold(leases, 0.95m); // needs 0.95 − 0.4 = $0.55 more, the room is 1 − 0.5 = $0.5: refused once the gate opens
        var waiting = Hold(leases, 0.45m); // $0.4 free is not enough: waits for that growth
        Assert.False(refused.IsCompleted);
        Assert.False(waiting.IsCompleted);

        gate.SetResult();
        Assert.Null(await refused); // the lease is retired: its free $0.4 goes back, $0.1 stays held for `running`
        var hold = await waiting;

        Assert.NotNull(hold);
        Assert.NotEqual(running!.LeaseId, hold!.LeaseId);
        // The new lease: needs $0.45, the room is 1 − 0.1 = $0.9, slice min($0.5, $0.9) = $0.5.
        Assert.Equal(
            new (string, bool, long?)[] { (running.LeaseId, true, Usd / 2), (running.LeaseId, false, null), (hold.LeaseId, true, Usd / 2) },
            _store.Grows.Select(grow => (grow.LeaseId, grow.Create, grow.Granted)));
        Assert.Equal((Usd / 10) + (Usd / 2), _store.ReservedNanos);
        Assert.Equal(1, leases.Count);
    }

    [Fact]
    public async Task A_request_waiting_while_maintenance_finds_its_lease_reclaimed_takes_a_new_lease()
    {
        var leases = NewLeases();
        var running = HoldNow(leases, 0.1m); // slice $0.5, $0.4 free
        _store.Reclaim(running!.LeaseId); // a sweep found it expired: closed in the store
        _time.Advance(TimeSpan.FromSeconds(10));
        var gate = _store.GateNextShrink();
        var tick = leases.MaintainAsync(CancellationToken.None); // used: renewing it holds the lease's growth
        var waiting = Hold(leases, 0.45m); // $0.4 free is not enough: waits for the tick
        Assert.False(tick.IsCompleted);
        Assert.False(waiting.IsCompleted);

        gate.SetResult(); // the renewal answers null: the lease is dropped
        await tick;
        var hold = await waiting;

        Assert.NotNull(hold);
        Assert.NotEqual(running.LeaseId, hold!.LeaseId);
        Assert.Equal(2, _store.Grows.Count(grow => grow.Create && grow.Granted is not null));
        Assert.Equal(Usd / 2, _store.ReservedNanos); // the new slice; the reclaimed one was released by the sweep
        Assert.Equal(1, leases.Count);
    }

    [Fact]
    public async Task A_request_that_finds_its_lease_as_maintenance_drops_it_reclaimed_does_not_take_from_it()
    {
        var leases = NewLeases();
        var running = HoldNow(leases, 0.1m); // slice $0.5, renew by t0 + 20 s
        _store.Reclaim(running!.LeaseId);
        _time.Advance(TimeSpan.FromSeconds(10));

        // Between finding the lease ($0.4 free, not due for renewal) and taking from it, a tick finds it reclaimed.
        _time.OnNextReading(() => Assert.True(leases.MaintainAsync(CancellationToken.None).IsCompletedSuccessfully));
        var hold = await Hold(leases, 0.1m);

        Assert.Equal(0, _time.HooksLeft);
        Assert.NotNull(hold);
        Assert.NotEqual(running.LeaseId, hold!.LeaseId); // taken from a new lease, not from the reclaimed one
        Assert.Equal(Usd / 2, _store.ReservedNanos);
    }

    [Fact]
    public async Task A_request_that_finds_its_lease_as_the_stop_closes_it_does_not_take_from_it()
    {
        var leases = NewLeases();
        var running = HoldNow(leases, 0.1m); // slice $0.5

        // Between finding the lease and taking from it, the stop closes every lease: this one gives its free $0.4 back
        // and stays open in the store (a request is in flight); it is no longer this process's to take from.
        _time.OnNextReading(() => Assert.True(leases.CloseAllAsync(CancellationToken.None).IsCompletedSuccessfully));
        var hold = await Hold(leases, 0.1m);

        Assert.Equal(0, _time.HooksLeft);
        Assert.NotNull(hold);
        Assert.NotEqual(running!.LeaseId, hold!.LeaseId);
        Assert.Equal(new[] { (running.LeaseId, true), (hold.LeaseId, true) }, _store.Grows.Select(grow => (grow.LeaseId, grow.Create)));
        Assert.Equal((Usd / 10) + (Usd / 2), _store.ReservedNanos); // the running request's $0.1 and the new slice
    }

    [Fact]
    public async Task A_request_whose_lease_the_stop_closes_does_not_wait_for_that_lease_s_growth()
    {
        var leases = NewLeases();
        HoldNow(leases, 0.1m); // slice $0.5, $0.4 free
        var gate = _store.GateNextGrow();
        var growing = Hold(leases, 0.45m); // holds the lease's growth until the gate opens
        Assert.False(growing.IsCompleted);

        _time.OnNextReading(() => Assert.True(leases.CloseAllAsync(CancellationToken.None).IsCompletedSuccessfully));
        var hold = Hold(leases, 0.1m).AsTask();

        // Its lease closed, it took a new one at once (the store answers at once), not after the closed lease's growth.
        Assert.True(hold.IsCompletedSuccessfully);
        Assert.NotNull(await hold);
        gate.SetResult();
        await growing;
    }

    [Fact]
    public async Task A_lease_used_and_released_between_two_ticks_is_renewed_not_retired()
    {
        var leases = NewLeases();
        var hold = HoldNow(leases, 0.1m);
        hold!.Release(0m); // over before the tick: nothing in flight, but the lease was used since the last tick

        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None);

        Assert.Equal(new[] { (hold.LeaseId, 0L) }, _store.Shrinks.Select(shrink => (shrink.LeaseId, shrink.Nanos))); // renewed, nothing given back
        Assert.Equal(1, leases.Count);
        Assert.Equal(Usd / 2, _store.ReservedNanos);
    }

    [Fact]
    public async Task Maintenance_does_not_wait_for_a_lease_s_first_slice()
    {
        var leases = NewLeases();
        var gate = _store.GateNextGrow();
        var first = Hold(leases, 0.1m); // its lease's first slice is being asked for
        Assert.False(first.IsCompleted);

        var tick = leases.MaintainAsync(CancellationToken.None);

        Assert.True(tick.IsCompletedSuccessfully); // nothing to renew yet: the tick does not queue behind the growth
        Assert.Empty(_store.Shrinks);
        gate.SetResult();
        Assert.NotNull(await first);
    }

    [Fact]
    public async Task Closing_all_forgets_the_retired_leases_so_no_later_tick_touches_them()
    {
        var leases = NewLeases();
        var running = HoldNow(leases, 0.1m);
        Assert.Null(HoldNow(leases, 5m)); // refused growth: retired, $0.1 still held for `running`
        Assert.Equal(0, leases.Count);

        await leases.CloseAllAsync(CancellationToken.None);
        Assert.Equal(new[] { running!.LeaseId, running.LeaseId }, _store.Shrinks.Select(shrink => shrink.LeaseId)); // retired, then on stop
        Assert.Empty(Assert.Single(_store.Closes)); // a request in flight: left to expire

        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None);
        Assert.Equal(2, _store.Shrinks.Count);
        Assert.Single(_store.Closes);
    }

    [Fact]
    public async Task A_lease_reclaimed_before_it_went_idle_is_forgotten_once_retired()
    {
        var leases = NewLeases();
        var hold = HoldNow(leases, 0.1m);
        hold!.Release(0m);
        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None); // used: renewed
        _store.Reclaim(hold.LeaseId);

        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None); // idle: retired, and its give-back answers null (reclaimed)
        Assert.Equal(2, _store.Shrinks.Count);

        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None);
        Assert.Equal(2, _store.Shrinks.Count); // forgotten: not asked again
        Assert.Empty(_store.Closes);
    }

    [Fact]
    public async Task A_tick_cancelled_while_it_gives_back_a_retired_lease_stops_before_the_next()
    {
        var leases = NewLeases();
        var retired = new List<string>();
        foreach (var key in new[] { "k1", "k2" })
        {
            retired.Add(HoldNow(leases, 0.1m, key)!.LeaseId); // $0.5 slice each
            Assert.Null(HoldNow(leases, 5m, key)); // refused: retired with a request in flight
        }

        var shrinks = _store.Shrinks.Count;
        using var stop = new CancellationTokenSource();
        _store.OnNextShrink(stop.Cancel);
        _time.Advance(TimeSpan.FromSeconds(10));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leases.MaintainAsync(stop.Token));
        var touched = Assert.Single(_store.Shrinks.Skip(shrinks)); // the other retired lease was not asked
        Assert.Contains(touched.LeaseId, retired);
    }

    [Fact]
    public async Task A_tick_cancelled_while_it_gives_back_a_retired_lease_ends_cancelled_when_only_a_lease_being_created_is_left()
    {
        var leases = NewLeases();
        HoldNow(leases, 0.1m, "k2");
        Assert.Null(HoldNow(leases, 5m, "k2")); // retired, a request in flight
        var gate = _store.GateNextGrow();
        var first = Hold(leases, 0.1m, "k1"); // a lease whose first slice is being asked for
        using var stop = new CancellationTokenSource();
        _store.OnNextShrink(stop.Cancel);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leases.MaintainAsync(stop.Token));

        gate.SetResult();
        Assert.NotNull(await first);
    }

    [Fact]
    public async Task Closing_all_cancelled_while_it_gives_back_a_lease_gives_back_no_other()
    {
        var leases = NewLeases();
        HoldNow(leases, 0.1m, "k1")!.Release(0m);
        HoldNow(leases, 0.1m, "k2")!.Release(0m);
        using var stop = new CancellationTokenSource();
        _store.OnNextShrink(stop.Cancel);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leases.CloseAllAsync(stop.Token));

        Assert.Single(_store.Shrinks);
        Assert.Empty(_store.Closes);
        Assert.Equal(0, leases.Count);
    }

    /// <summary>A fake clock that runs each queued hook on one reading of the time (not the readings the hook makes).</summary>
    private sealed class HookClock(DateTimeOffset start) : FakeTimeProvider(start)
    {
        private readonly Queue<Action> _hooks = new();
        private bool _inHook;

        public int HooksLeft => _hooks.Count;

        /// <summary>The time, read without running a hook.</summary>
        public DateTimeOffset Peek => base.GetUtcNow();

        public void OnNextReading(Action hook) => _hooks.Enqueue(hook);

        public override DateTimeOffset GetUtcNow()
        {
            if (!_inHook && _hooks.TryDequeue(out var hook))
            {
                _inHook = true;
                try
                {
                    hook();
                }
                finally
                {
                    _inHook = false;
                }
            }

            return base.GetUtcNow();
        }
    }

    private sealed record GrowCall(string LeaseId, bool Create, long MinNanos, long? Granted);

    private sealed record ShrinkCall(string LeaseId, long Nanos, long? Spent);

    /// <summary>
    /// Leases under one cap, in memory: a grow is granted <c>min(max(want, min), max(min, room × share))</c> when the room (cap −
    /// every open slice) covers <c>min</c>; a shrink gives back up to what the slice holds beyond its records' charges
    /// (none here); a close or a sweep's reclaim releases the slice. Every call answers at once unless gated.
    /// </summary>
    private sealed class FakeLeaseStore(long capNanos) : IBudgetLeaseStore
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<string, (long Slice, bool Closed)> _leases = new(StringComparer.Ordinal);
        private TaskCompletionSource? _growGate;
        private TaskCompletionSource? _shrinkGate;
        private Action? _onShrink;

        public List<GrowCall> Grows { get; } = [];

        public List<ShrinkCall> Shrinks { get; } = [];

        public List<IReadOnlyList<string>> Closes { get; } = [];

        public long ReservedNanos
        {
            get
            {
                lock (_lock)
                {
                    return _leases.Values.Where(lease => !lease.Closed).Sum(lease => lease.Slice);
                }
            }
        }

        public TaskCompletionSource GateNextGrow() => _growGate = new TaskCompletionSource();

        public TaskCompletionSource GateNextShrink() => _shrinkGate = new TaskCompletionSource();

        public void OnNextShrink(Action action) => _onShrink = action;

        /// <summary>What a sweep does to a lease it finds expired.</summary>
        public void Reclaim(string leaseId)
        {
            lock (_lock)
            {
                _leases[leaseId] = (0, true);
            }
        }

        public async Task<long?> GrowLeaseAsync(string leaseId, bool create, string instanceId, IReadOnlyList<BudgetLimit> limits, long minNanos, long wantNanos, decimal share, DateTimeOffset at, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Exchange(ref _growGate, null) is { } gate)
            {
                await gate.Task;
            }

            lock (_lock)
            {
                long? granted = null;
                var known = _leases.TryGetValue(leaseId, out var lease);
                if ((known && !lease.Closed) || (!known && create))
                {
                    var room = capNanos - _leases.Values.Where(open => !open.Closed).Sum(open => open.Slice);
                    if (room >= minNanos)
                    {
                        granted = Math.Min(Math.Max(wantNanos, minNanos), Math.Max(minNanos, (long)decimal.Floor(Math.Max(0, room) * share)));
                        _leases[leaseId] = (lease.Slice + granted.Value, false);
                    }
                }

                Grows.Add(new GrowCall(leaseId, create, minNanos, granted));
                return granted;
            }
        }

        public async Task<long?> ShrinkLeaseAsync(string leaseId, long nanos, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Exchange(ref _shrinkGate, null) is { } gate)
            {
                await gate.Task;
            }

            Interlocked.Exchange(ref _onShrink, null)?.Invoke();
            lock (_lock)
            {
                long? spent = null;
                if (_leases.TryGetValue(leaseId, out var lease) && !lease.Closed)
                {
                    _leases[leaseId] = (lease.Slice - Math.Min(nanos, lease.Slice), false);
                    spent = 0;
                }

                Shrinks.Add(new ShrinkCall(leaseId, nanos, spent));
                return spent;
            }
        }

        public Task CloseLeasesAsync(IReadOnlyList<string> leaseIds, DateTimeOffset at, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lock (_lock)
            {
                Closes.Add([.. leaseIds]);
                foreach (var id in leaseIds)
                {
                    _leases[id] = (0, true);
                }
            }

            return Task.CompletedTask;
        }
    }
}
