using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace ModelMix.Budgets;

/// <summary>
/// Budget leases (issue 29, docs/keys-and-budgets.md "Budget leases"): per set of a key's caps, this process holds a
/// slice of the remaining budget in the store (<see cref="IBudgetLeaseStore"/>) and reserves requests' worst cases
/// against it in memory, under a tiny lock per lease. When a request does not fit, the lease grows by one durable write
/// (concurrent requests of the same key wait for that one write, not one each); when it cannot grow, the caller falls
/// back to a per-request reservation (after this process gave its own unused slice back, so only other processes' slices
/// can cause a refusal the cap would not). Slices shrink near the cap: <c>min(size, room × share)</c>, at least the
/// request's worst case. <see cref="MaintainAsync"/> renews live leases before they expire and closes idle ones.
/// </summary>
internal sealed class BudgetLeases
{
    private readonly IBudgetLeaseStore _store;
    private readonly string _instanceId;
    private readonly TimeProvider _time;
    private readonly long _sizeNanos;
    private readonly decimal _share;
    private readonly TimeSpan _ttl;
    private readonly ConcurrentDictionary<string, Lease> _leases = new(StringComparer.Ordinal);

    // Leases no longer taking requests whose requests are still running: renewed until the last ends, then closed.
    private readonly ConcurrentDictionary<string, Lease> _retired = new(StringComparer.Ordinal);

    /// <param name="store">The store that grants slices.</param>
    /// <param name="instanceId">This process (stored on its leases).</param>
    /// <param name="sizeUsd">The slice a lease asks for (positive).</param>
    /// <param name="share">The largest share of the room left under a cap one slice may take (0 &lt; share ≤ 1).</param>
    /// <param name="ttl">How long a lease lives without being renewed (a dead process's slices come back after it).</param>
    /// <param name="time">The clock.</param>
    public BudgetLeases(IBudgetLeaseStore store, string instanceId, decimal sizeUsd, decimal share, TimeSpan ttl, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sizeUsd);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(share);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(share, 1m);
        _store = store;
        _instanceId = instanceId;
        _sizeNanos = BudgetMoney.ToNanos(sizeUsd);
        _share = share;
        _ttl = ttl;
        _time = time;
    }

    /// <summary>How many leases this process holds.</summary>
    public int Count => _leases.Count;

    /// <summary>
    /// The slice granted out of <paramref name="room"/> (cap − spent − reserved, the least over the lease's counters):
    /// <c>min(max(want, min), max(min, ⌊room × share⌋))</c>: never less than <paramref name="min"/>, never more than the room
    /// when the room covers <paramref name="min"/>.
    /// </summary>
    public static long Slice(long room, long min, long want, decimal share)
    {
        var part = (long)decimal.Floor(Math.Max(0, room) * share);
        return Math.Min(Math.Max(want, min), Math.Max(min, part));
    }

    /// <summary>
    /// Holds <paramref name="amountUsd"/> against this process's lease for <paramref name="limits"/> (taking or growing it
    /// when needed). Null when the lease cannot cover it: reserve per request instead (this process's unused slice was
    /// given back first).
    /// </summary>
    public async ValueTask<BudgetLeaseHold?> HoldAsync(IReadOnlyList<BudgetLimit> limits, decimal amountUsd, DateTimeOffset at, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var amount = BudgetMoney.ToNanos(amountUsd);
        var key = KeyOf(limits, at);
        for (var round = 0; round < 3; round++)
        {
            var lease = _leases.GetOrAdd(key, static (_, state) => new Lease(state.Limits, state.At), (Limits: limits, At: at));
            if (lease.TryTake(amount, _time.GetUtcNow()) is { } taken)
            {
                return taken;
            }

            if (lease.Closed)
            {
                // Stryker disable once Statement : equivalent (docs/testing.md, budgets): whoever closes a lease removes it in the same step, before any await; this removal is always a no-op or the closer's own, one statement later
                _leases.TryRemove(new KeyValuePair<string, Lease>(key, lease));
                continue;
            }

            await lease.Grow.WaitAsync(cancellationToken);
            try
            {
                var now = _time.GetUtcNow();
                if (lease.TryTake(amount, now) is { } fits)
                {
                    return fits; // another request's growth made room
                }

                if (lease.Closed)
                {
                    continue;
                }

                var free = lease.Free;
                var granted = await _store.GrowLeaseAsync(lease.Id, create: !lease.Created, _instanceId, lease.Limits, Math.Max(0, amount - free), _sizeNanos, _share, now, now + _ttl, CancellationToken.None);
                if (granted is not { } grant)
                {
                    // No room for this request in a new slice: give back what this process parks, and let the caller reserve
                    // per request against what is really left (its refusal names the cap).
                    if (lease.Created)
                    {
                        await CloseAsync(key, lease, now);
                    }
                    else
                    {
                        lease.Close();
                        _leases.TryRemove(new KeyValuePair<string, Lease>(key, lease));
                    }

                    return null;
                }

                lease.Granted(grant, RenewBy(now));
                if (lease.TryTake(amount, now) is { } grown)
                {
                    // Taken at once: on a last try, falling back would leave the slice grown for it held by this process
                    // and reserve its amount again against what is left (a refusal the cap would not make).
                    return grown;
                }
            }
            finally
            {
                lease.Grow.Release();
            }
        }

        return null;
    }

    /// <summary>
    /// Once per tick (<c>ttl / 3</c>): renews the expiry of leases in use and closes the ones no request used since the
    /// last tick (their slices go back to the budget). A lease the store closed meanwhile (a sweep reclaimed it) is dropped.
    /// </summary>
    public async Task MaintainAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        foreach (var (id, retired) in _retired)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var spent = await GiveBackAsync(retired, now);
            if (spent is null)
            {
                _retired.TryRemove(id, out _); // reclaimed meanwhile (renewal failed for a whole TTL)
            }
            else if (retired.InFlight == 0 && spent >= retired.Charged)
            {
                // Every request ended and every record is charged to it: closing releases no hold still needed.
                _retired.TryRemove(id, out _);
                await _store.CloseLeasesAsync([id], now, CancellationToken.None);
            }
        }

        foreach (var (key, lease) in _leases)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!lease.Created)
            {
                continue;
            }

            await lease.Grow.WaitAsync(cancellationToken);
            try
            {
                if (lease.IdleSinceLastTick())
                {
                    await CloseAsync(key, lease, now);
                }
                else if (await _store.ShrinkLeaseAsync(lease.Id, 0, now + _ttl, CancellationToken.None) is null)
                {
                    lease.Close();
                    _leases.TryRemove(new KeyValuePair<string, Lease>(key, lease));
                }
                else
                {
                    lease.Renewed(RenewBy(now));
                }
            }
            finally
            {
                lease.Grow.Release();
            }
        }
    }

    /// <summary>Closes every lease (on a normal stop, after requests finished and the ledger was flushed).</summary>
    public async Task CloseAllAsync(CancellationToken cancellationToken)
    {
        var all = new List<Lease>(_retired.Values);
        _retired.Clear();
        foreach (var (key, lease) in _leases)
        {
            lease.Close();
            _leases.TryRemove(new KeyValuePair<string, Lease>(key, lease));
            if (lease.Created)
            {
                all.Add(lease);
            }
        }

        // A lease whose records are not all charged yet (the ledger's last batch may commit after this) is only shrunk:
        // it expires and the sweep closes it, charging what its records cost by then.
        var now = _time.GetUtcNow();
        var ids = new List<string>();
        foreach (var lease in all)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (await GiveBackAsync(lease, now) is { } spent && lease.InFlight == 0 && spent >= lease.Charged)
            {
                ids.Add(lease.Id);
            }
        }

        await _store.CloseLeasesAsync(ids, now, cancellationToken);
    }

    /// <summary>When a lease renewed at <paramref name="now"/> stops taking requests until renewed again: a third of its life before it expires in the store.</summary>
    private DateTimeOffset RenewBy(DateTimeOffset now) => now + _ttl - _ttl / 3;

    /// <summary>
    /// Stops using a lease: its unused part goes back now; it stays renewed (MaintainAsync) until its requests ended and
    /// their records are charged to it, then it is closed — closing earlier would release the holds of records the
    /// ledger has not committed yet, money another process could then take.
    /// </summary>
    private async Task CloseAsync(string key, Lease lease, DateTimeOffset now)
    {
        lease.Close();
        _leases.TryRemove(new KeyValuePair<string, Lease>(key, lease));
        _retired[lease.Id] = lease;
        if (await GiveBackAsync(lease, now) is null)
        {
            _retired.TryRemove(lease.Id, out _);
        }
    }

    /// <summary>
    /// Gives the lease's free part back to the store and renews it; the part given back leaves the slice, so a later tick
    /// gives back only what requests freed since, never the holds of requests still running or of records not yet
    /// charged. Returns what the store says the lease's records cost so far, or null when it was closed (reclaimed).
    /// </summary>
    private async Task<long?> GiveBackAsync(Lease lease, DateTimeOffset now)
    {
        var free = lease.Free;
        var spent = await _store.ShrinkLeaseAsync(lease.Id, free, now + _ttl, CancellationToken.None);
        if (spent is not null)
        {
            lease.GaveBack(free);
        }

        return spent;
    }

    /// <summary>The lease's identity: the caps it covers in the periods containing <paramref name="at"/>, so a changed cap or a new day takes a new lease.</summary>
    private static string KeyOf(IReadOnlyList<BudgetLimit> limits, DateTimeOffset at)
    {
        var key = new StringBuilder(64);
        foreach (var limit in limits)
        {
            key.Append(limit.Scope).Append('|').Append(BudgetPeriods.ToCode(limit.Window)).Append('|')
                .Append(BudgetPeriods.Start(limit.Window, at).UtcTicks.ToString(CultureInfo.InvariantCulture)).Append('|')
                .Append(BudgetMoney.CapToNanos(limit.CapUsd).ToString(CultureInfo.InvariantCulture)).Append(';');
        }

        return key.ToString();
    }

    /// <summary>One lease: its slice, what requests that ended were charged, and what requests in flight hold (nano-dollars).</summary>
    private sealed class Lease(IReadOnlyList<BudgetLimit> limits, DateTimeOffset at)
    {
        private readonly Lock _lock = new();
        private long _granted;
        private long _charged;
        private long _inFlight;
        private bool _used;
        private DateTimeOffset _expiresAt;

        public string Id { get; } = BudgetLeaseIds.Prefix + Ledger.LedgerIds.New(at);

        public IReadOnlyList<BudgetLimit> Limits { get; } = limits;

        public SemaphoreSlim Grow { get; } = new(1, 1);

        public bool Created { get; private set; }

        public bool Closed { get; private set; }

        public long Free
        {
            get
            {
                lock (_lock)
                {
                    return Math.Max(0, _granted - _charged - _inFlight);
                }
            }
        }

        /// <summary>What the requests that ended cost (as their records will be charged to the lease).</summary>
        public long Charged
        {
            get
            {
                lock (_lock)
                {
                    return _charged;
                }
            }
        }

        public long InFlight
        {
            get
            {
                lock (_lock)
                {
                    return _inFlight;
                }
            }
        }

        /// <summary>Holds <paramref name="amount"/> when the slice has room and the lease is not due for renewal.</summary>
        public BudgetLeaseHold? TryTake(long amount, DateTimeOffset now)
        {
            lock (_lock)
            {
                if (Closed || !Created || _granted - _charged - _inFlight < amount || now >= _expiresAt)
                {
                    return null;
                }

                _inFlight += amount;
                _used = true;
                return new BudgetLeaseHold(Release, Id, amount);
            }
        }

        public void Release(long amount, long charged)
        {
            lock (_lock)
            {
                _inFlight -= amount;
                _charged += charged;
            }
        }

        public void Granted(long grant, DateTimeOffset expiresAt)
        {
            lock (_lock)
            {
                _granted += grant;
                _expiresAt = expiresAt;
                Created = true;
            }
        }

        /// <summary>Takes <paramref name="nanos"/> the store was given back out of the slice.</summary>
        public void GaveBack(long nanos)
        {
            lock (_lock)
            {
                _granted -= nanos;
            }
        }

        public void Renewed(DateTimeOffset expiresAt)
        {
            lock (_lock)
            {
                _expiresAt = expiresAt;
            }
        }

        public bool IdleSinceLastTick()
        {
            lock (_lock)
            {
                var idle = !_used && _inFlight == 0;
                _used = false;
                return idle;
            }
        }

        public void Close()
        {
            lock (_lock)
            {
                Closed = true;
            }
        }
    }
}

/// <summary>Money one request holds against a lease (<see cref="BudgetLeases.HoldAsync"/>), given back (with what the request cost) by <see cref="Release"/>.</summary>
internal sealed class BudgetLeaseHold
{
    private readonly Action<long, long> _release;
    private readonly long _amount;
    private int _released;

    internal BudgetLeaseHold(Action<long, long> release, string leaseId, long amount)
    {
        _release = release;
        LeaseId = leaseId;
        AmountUsd = BudgetMoney.ToUsd(amount);
        _amount = amount;
    }

    /// <summary>The lease's id: the reservation id the request's attempt intents carry, so each record is charged to it.</summary>
    public string LeaseId { get; }

    /// <summary>The amount held (the request's worst case, rounded up to a nano-dollar).</summary>
    public decimal AmountUsd { get; }

    /// <summary>Ends the hold: what the request cost (<paramref name="chargedUsd"/>, as its records will be charged) counts as spent in the lease.</summary>
    public void Release(decimal chargedUsd)
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _release(_amount, BudgetMoney.ToNanos(chargedUsd));
        }
    }
}
