using Microsoft.Extensions.Time.Testing;
using ModelMix.Budgets;
using ModelMix.Ledger;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// <see cref="BudgetLeases"/>' life cycle (written from the <c>budgets</c> mutation run, docs/testing.md "Seventh
/// session"): when a lease stops taking requests until renewed, what <see cref="BudgetLeases.MaintainAsync"/> renews,
/// retires and closes, and the slice arithmetic. Over a real SQLite file, with every lease call the leases make recorded.
/// </summary>
public sealed class BudgetLeasesMutationTests() : BudgetStoreFileFixture("modelmix-lease-mutation-tests")
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 14, 12, 0, 0, TimeSpan.Zero));
    private readonly DateTimeOffset _t0 = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);
    private RecordingStore _store = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _store = new RecordingStore(Store);
    }

    private static BudgetLimit Daily(decimal cap) => new("key:k1", "key 'team-a'", BudgetWindow.Day, cap);

    private BudgetLeases NewLeases(decimal sizeUsd = 0.5m, decimal share = 1m) => new(_store, "inst-1", sizeUsd, share, Ttl, _time);

    private Task<BudgetLeaseHold?> Hold(BudgetLeases leases, decimal amountUsd) =>
        leases.HoldAsync([Daily(1m)], amountUsd, _time.GetUtcNow(), CancellationToken.None).AsTask();

    private async Task<decimal> Reserved() => (await Store.GetUsageAsync("key:k1", BudgetWindow.Day, _time.GetUtcNow())).ReservedUsd;

    [Fact]
    public async Task A_lease_stops_taking_requests_a_third_of_its_life_before_it_expires_until_it_is_renewed()
    {
        var leases = NewLeases();
        Assert.NotNull(await Hold(leases, 0.01m)); // slice $0.5, expires in the store at t0 + 30 s; renew by t0 + 30 − 10 = t0 + 20 s
        Assert.Single(_store.Grows);

        _time.Advance(TimeSpan.FromSeconds(19));
        Assert.NotNull(await Hold(leases, 0.01m)); // still within its life: taken in memory
        Assert.Single(_store.Grows);

        _time.Advance(TimeSpan.FromSeconds(1)); // t0 + 20 s: due for renewal, so the next request renews it by a durable write
        Assert.NotNull(await Hold(leases, 0.01m));
        Assert.Equal(2, _store.Grows.Count);
        var renewal = _store.Grows[1];
        Assert.False(renewal.Create); // the same lease, grown
        Assert.Equal(_store.Grows[0].LeaseId, renewal.LeaseId);
        Assert.Equal(0, renewal.MinNanos); // the slice's free $0.48 covers $0.01: it needs nothing more
        Assert.Equal(_t0 + TimeSpan.FromSeconds(50), renewal.ExpiresAt); // now + TTL
        Assert.Equal(1m, await Reserved()); // the renewal's slice: min($0.5, room $0.5 × 1)
    }

    [Fact]
    public async Task Maintenance_renews_a_lease_in_use_retires_it_once_idle_and_closes_it_once_its_records_are_charged()
    {
        var leases = NewLeases();
        var first = await Hold(leases, 0.01m);
        var id = first!.LeaseId;
        Assert.StartsWith(BudgetLeaseIds.Prefix, id, StringComparison.Ordinal);

        // Tick 1 (t0 + 10 s): used since the last tick: renewed in the store (nothing given back) and in memory (renew by
        // t0 + 10 + 20 = t0 + 30 s, so a request at t0 + 25 s is still taken without a durable write).
        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None);
        Assert.Equal([new Shrink(id, 0, _t0 + TimeSpan.FromSeconds(40))], _store.Shrinks);
        _time.Advance(TimeSpan.FromSeconds(15));
        var second = await Hold(leases, 0.01m);
        Assert.Single(_store.Grows);

        // Tick 2 (t0 + 30 s): no new request since tick 1's, but one is still in flight: not idle, renewed again.
        _time.Advance(TimeSpan.FromSeconds(5));
        first.Release(0m);
        await leases.MaintainAsync(CancellationToken.None); // the request at t0 + 25 s was after tick 1: used
        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None); // tick 3 (t0 + 40 s): unused since, but `second` is in flight
        Assert.Equal([new Shrink(id, 0, _t0 + TimeSpan.FromSeconds(60)), new Shrink(id, 0, _t0 + TimeSpan.FromSeconds(70))], _store.Shrinks.Skip(1));
        Assert.Empty(_store.Closes);
        Assert.Equal(0.5m, await Reserved());

        // Tick 4 (t0 + 50 s): the last request ended (it cost nothing) and none came: retired, its whole slice given back.
        second!.Release(0m);
        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None);
        Assert.Equal(new Shrink(id, BudgetMoney.NanosPerUsd / 2, _t0 + TimeSpan.FromSeconds(80)), _store.Shrinks[^1]);
        Assert.Equal(0m, await Reserved());
        Assert.Equal(0, leases.Count);
        Assert.Empty(_store.Closes); // closed only at the next tick, once the store confirms what its records cost

        // Tick 5: retired, nothing in flight, its records (none) charged: closed in the store, and never touched again.
        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None);
        Assert.Equal([id], Assert.Single(_store.Closes));
        await NextTickLeavesTheStoreAlone(leases);
    }

    [Fact]
    public async Task A_lease_a_sweep_reclaimed_is_dropped_at_the_next_tick_and_the_next_request_takes_a_new_one()
    {
        var leases = NewLeases();
        var hold = await Hold(leases, 0.01m);
        var id = hold!.LeaseId;
        await Store.CloseLeasesAsync([id], _time.GetUtcNow()); // what a sweep does to a lease it finds expired

        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None); // used, so renewed: the store says it is closed
        Assert.Equal(0, leases.Count);

        var next = await Hold(leases, 0.01m);
        Assert.NotEqual(id, next!.LeaseId);
        Assert.Equal([true, true], _store.Grows.Select(grow => grow.Create));
    }

    [Fact]
    public async Task A_retired_lease_the_store_reclaimed_is_forgotten()
    {
        var leases = NewLeases();
        var hold = await Hold(leases, 0.01m);
        var id = hold!.LeaseId;
        hold.Release(0.01m); // it cost $0.01, not yet charged to the lease (its record is not committed)
        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None); // used: renewed
        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None); // idle: retired, $0.49 given back, $0.01 still held for the record
        Assert.Equal(0.01m, await Reserved());

        await Store.CloseLeasesAsync([id], _time.GetUtcNow()); // reclaimed meanwhile
        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None); // its shrink answers null: dropped, not closed by this process
        await NextTickLeavesTheStoreAlone(leases);
        Assert.Empty(_store.Closes);
    }

    [Fact]
    public async Task A_retired_lease_keeps_holding_what_its_running_requests_and_uncommitted_records_need_until_they_are_charged()
    {
        var leases = NewLeases();
        var done = await Hold(leases, 0.1m); // slice $0.5
        var running = await Hold(leases, 0.1m);
        var id = done!.LeaseId;
        done.Release(0.05m); // it cost $0.05; its record is not committed yet

        // $0.9 does not fit: the slice's free part is 0.5 − 0.05 − 0.1 = $0.35, it needs $0.55 more and only $0.5 is left
        // under the cap. The lease is retired and its free $0.35 given back: $0.15 stays held (0.05 pending + 0.1 running).
        Assert.Null(await Hold(leases, 0.9m));
        Assert.Equal(0.15m, await Reserved());

        // Ticks while the request runs and the record is uncommitted give nothing more back.
        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None);
        Assert.Equal(0.15m, await Reserved());
        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None);
        Assert.Equal(0.15m, await Reserved());

        // The running request ends having cost $0.02: the next tick gives back its unused 0.1 − 0.02 = $0.08.
        running!.Release(0.02m);
        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None);
        Assert.Equal(0.07m, await Reserved()); // 0.05 + 0.02, held for the two records
        Assert.Empty(_store.Closes);

        // Both records are committed against the lease ($0.05 + $0.02 = $0.07 charged to it): the next tick closes it.
        await using (var ledger = new SqliteLedgerStore(DbPath))
        {
            await ledger.MigrateAsync();
            var a = Intent("req-a", id);
            var b = Intent("req-b", id);
            await ledger.WriteIntentsAsync("inst-1", [a, b], _time.GetUtcNow());
            await ledger.WriteBatchAsync([Record(a, 0.05m), Record(b, 0.02m)]);
        }

        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None);
        Assert.Equal([id], Assert.Single(_store.Closes));
        var usage = await Store.GetUsageAsync("key:k1", BudgetWindow.Day, _time.GetUtcNow());
        Assert.Equal((0.07m, 0m), (usage.SpentUsd, usage.ReservedUsd));
    }

    [Fact]
    public async Task Closing_all_on_stop_shrinks_a_lease_with_a_request_in_flight_but_does_not_close_it()
    {
        var leases = NewLeases();
        var done = await Hold(leases, 0.1m);
        var running = await Hold(leases, 0.1m);
        done!.Release(0m);

        await leases.CloseAllAsync(CancellationToken.None);

        Assert.Equal(0.1m, await Reserved()); // the running request's hold: the free 0.5 − 0.1 = $0.4 went back
        Assert.Equal(new Shrink(running!.LeaseId, BudgetMoney.NanosPerUsd * 4 / 10, _t0 + Ttl), Assert.Single(_store.Shrinks));
        Assert.Empty(Assert.Single(_store.Closes)); // closed by nobody: it expires and the sweep charges what its records cost
        Assert.Equal(0, leases.Count);
    }

    [Fact]
    public async Task Closing_all_on_stop_closes_a_lease_whose_requests_ended_and_whose_records_are_all_charged()
    {
        var leases = NewLeases();
        var hold = await Hold(leases, 0.1m);
        hold!.Release(0m); // it cost nothing: nothing to wait for

        await leases.CloseAllAsync(CancellationToken.None);

        Assert.Equal([hold.LeaseId], Assert.Single(_store.Closes));
        Assert.Null(await Store.ShrinkLeaseAsync(hold.LeaseId, 0, _t0 + Ttl)); // closed in the store
        Assert.Equal(0m, await Reserved());
    }

    [Fact]
    public async Task Closing_all_on_stop_leaves_out_a_lease_whose_requests_cost_more_than_the_store_has_charged_it()
    {
        var leases = NewLeases();
        var hold = await Hold(leases, 0.1m);
        hold!.Release(0.03m); // its record ($0.03) is not committed yet

        await leases.CloseAllAsync(CancellationToken.None);

        Assert.Empty(Assert.Single(_store.Closes));
        Assert.Equal(0.03m, await Reserved()); // held until the sweep closes it with its record
    }

    [Fact]
    public async Task A_request_refused_a_first_slice_gets_no_lease_and_a_later_one_that_fits_gets_a_new_lease()
    {
        var leases = NewLeases();
        Assert.Null(await Hold(leases, 1.5m)); // more than the $1 cap: no slice, nothing held, nothing to close
        Assert.Equal(0m, await Reserved());
        Assert.Empty(_store.Shrinks);

        var hold = await Hold(leases, 0.01m);
        Assert.NotNull(hold);
        Assert.Equal([true, true], _store.Grows.Select(grow => grow.Create));
        Assert.NotEqual(_store.Grows[0].LeaseId, hold!.LeaseId);
        Assert.Equal(1, leases.Count);
    }

    [Theory]
    [InlineData(1_000, 100, 500, "0.25", 250)] // min(500, max(100, 250))
    [InlineData(1_000, 100, 50, "0.25", 100)] // the wanted size below the minimum: the minimum
    [InlineData(1_000, 400, 500, "0.25", 400)] // room × share below the minimum: the minimum
    [InlineData(1_000, 0, 2_000, "1", 1_000)] // the whole room at most
    [InlineData(1_001, 0, 2_000, "0.5", 500)] // 500.5 rounded down: never more than the share
    [InlineData(-5, 10, 20, "0.5", 10)] // no room (negative when a cap was lowered): the minimum, which the store then refuses
    public void A_slice_is_the_wanted_size_bounded_by_the_share_of_the_room_and_at_least_the_minimum(long room, long min, long want, string share, long expected)
    {
        Assert.Equal(expected, BudgetLeases.Slice(room, min, want, decimal.Parse(share, System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void Bad_lease_settings_are_refused_by_name()
    {
        Assert.Equal("store", Assert.Throws<ArgumentNullException>(() => new BudgetLeases(null!, "i", 1m, 1m, Ttl, _time)).ParamName);
        Assert.Equal("instanceId", Assert.Throws<ArgumentException>(() => new BudgetLeases(_store, "", 1m, 1m, Ttl, _time)).ParamName);
        Assert.Equal("sizeUsd", Assert.Throws<ArgumentOutOfRangeException>(() => new BudgetLeases(_store, "i", 0m, 1m, Ttl, _time)).ParamName);
        Assert.Equal("share", Assert.Throws<ArgumentOutOfRangeException>(() => new BudgetLeases(_store, "i", 1m, 0m, Ttl, _time)).ParamName);
        Assert.Equal("share", Assert.Throws<ArgumentOutOfRangeException>(() => new BudgetLeases(_store, "i", 1m, 1.01m, Ttl, _time)).ParamName);
        Assert.Equal(0, new BudgetLeases(_store, "i", 0.000000001m, 1m, Ttl, _time).Count); // a share of exactly 1 is allowed
    }

    private LedgerIntent Intent(string requestId, string leaseId) => BudgetTestRecords.Intent(requestId, leaseId, _time.GetUtcNow());

    private LedgerRecord Record(LedgerIntent intent, decimal cost) => BudgetTestRecords.Record(intent.RequestId, cost, _time.GetUtcNow(), id: intent.Id);

    /// <summary>One more tick (10 s later) makes no call on the store.</summary>
    private async Task NextTickLeavesTheStoreAlone(BudgetLeases leases)
    {
        var (shrinks, closes) = (_store.Shrinks.Count, _store.Closes.Count);
        _time.Advance(TimeSpan.FromSeconds(10));
        await leases.MaintainAsync(CancellationToken.None);
        Assert.Equal((shrinks, closes), (_store.Shrinks.Count, _store.Closes.Count));
    }

    private sealed record Grow(string LeaseId, bool Create, long MinNanos, DateTimeOffset ExpiresAt);

    private sealed record Shrink(string LeaseId, long Nanos, DateTimeOffset ExpiresAt);

    /// <summary>Passes every call to the SQLite store and records it.</summary>
    private sealed class RecordingStore(IBudgetLeaseStore inner) : IBudgetLeaseStore
    {
        public List<Grow> Grows { get; } = [];

        public List<Shrink> Shrinks { get; } = [];

        public List<IReadOnlyList<string>> Closes { get; } = [];

        public Task<long?> GrowLeaseAsync(string leaseId, bool create, string instanceId, IReadOnlyList<BudgetLimit> limits, long minNanos, long wantNanos, decimal share, DateTimeOffset at, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
        {
            lock (Grows)
            {
                Grows.Add(new Grow(leaseId, create, minNanos, expiresAt));
            }

            return inner.GrowLeaseAsync(leaseId, create, instanceId, limits, minNanos, wantNanos, share, at, expiresAt, cancellationToken);
        }

        public Task<long?> ShrinkLeaseAsync(string leaseId, long nanos, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
        {
            Shrinks.Add(new Shrink(leaseId, nanos, expiresAt));
            return inner.ShrinkLeaseAsync(leaseId, nanos, expiresAt, cancellationToken);
        }

        public Task CloseLeasesAsync(IReadOnlyList<string> leaseIds, DateTimeOffset at, CancellationToken cancellationToken = default)
        {
            Closes.Add([.. leaseIds]);
            return inner.CloseLeasesAsync(leaseIds, at, cancellationToken);
        }
    }
}
