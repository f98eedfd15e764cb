using ModelMix.Ledger;

namespace ModelMix.Budgets;

/// <summary>
/// The backend-neutral part of a budget reservation, shared by the SQLite and PostgreSQL budget stores: the counters it
/// holds money in (<see cref="BudgetCounterHold"/>: each scope and window once, in the caller's order), the reservation
/// it makes, and the refusal when a counter has no room. A store runs only its backend's hold of
/// <see cref="Amount"/> on <see cref="Counters"/> — SQLite a conditional <c>UPDATE</c> per counter in one write
/// transaction, PostgreSQL one statement that locks the counters in the global order — and answers
/// <see cref="Made"/>, or <see cref="Refused"/> with the first counter (in the caller's order) that had no room and its
/// money. Amounts are nano-dollars (<see cref="BudgetMoney"/>).
/// </summary>
internal sealed class BudgetHoldPlan
{
    private BudgetHoldPlan(IReadOnlyList<BudgetCounterHold> counters, long amount, DateTimeOffset at, BudgetReservation reservation)
    {
        Counters = counters;
        Amount = amount;
        At = at;
        Reservation = reservation;
    }

    /// <summary>The counters to hold <see cref="Amount"/> in, each once, in the caller's order.</summary>
    public IReadOnlyList<BudgetCounterHold> Counters { get; }

    /// <summary>The amount each counter holds, in nano-dollars (rounded up from the request's USD).</summary>
    public long Amount { get; }

    /// <summary>When the reservation is made (its periods are those containing this instant).</summary>
    public DateTimeOffset At { get; }

    /// <summary>The reservation made when every counter has room.</summary>
    public BudgetReservation Reservation { get; }

    /// <summary>The stored creation instant (<see cref="SqliteLedgerSchema.ToStoredTimestamp"/>).</summary>
    public long StoredCreatedAt => SqliteLedgerSchema.ToStoredTimestamp(At);

    /// <summary>The stored expiry instant.</summary>
    public long StoredExpiresAt => SqliteLedgerSchema.ToStoredTimestamp(Reservation.ExpiresAt);

    /// <summary>The answer when every counter took the hold.</summary>
    public BudgetReserveResult Made => new() { Reservation = Reservation };

    /// <summary>
    /// Plans the reservation of <paramref name="amountUsd"/> for <paramref name="requestId"/> under
    /// <paramref name="limits"/> at <paramref name="at"/>, held until <paramref name="at"/> + <paramref name="ttl"/>
    /// (the argument checks of <see cref="IBudgetStore.ReserveAsync"/>).
    /// </summary>
    public static BudgetHoldPlan Create(string requestId, IReadOnlyList<BudgetLimit> limits, decimal amountUsd, DateTimeOffset at, TimeSpan ttl)
    {
        ArgumentException.ThrowIfNullOrEmpty(requestId);
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentOutOfRangeException.ThrowIfNegative(amountUsd);
        var amount = BudgetMoney.ToNanos(amountUsd);
        var reservation = new BudgetReservation
        {
            Id = "res_" + LedgerIds.New(at),
            RequestId = requestId,
            AmountUsd = BudgetMoney.ToUsd(amount),
            CreatedAt = at,
            ExpiresAt = at + ttl,
            Limits = limits,
        };
        return new BudgetHoldPlan(BudgetCounterHold.Distinct(limits, at), amount, at, reservation);
    }

    /// <summary>Whether a counter with <paramref name="spent"/> and <paramref name="reserved"/> money has room for the amount under its cap.</summary>
    public bool Fits(BudgetCounterHold counter, long spent, long reserved) => spent + reserved + Amount <= counter.Cap;

    /// <summary>The refusal by <paramref name="counter"/>, which had <paramref name="spent"/> and <paramref name="reserved"/> money (nano-dollars) before this request.</summary>
    public BudgetReserveResult Refused(BudgetCounterHold counter, long spent, long reserved) => new()
    {
        Refusal = new BudgetRefusal(counter.Limit, BudgetMoney.ToUsd(spent), BudgetMoney.ToUsd(reserved), BudgetMoney.ToUsd(Amount), BudgetPeriods.End(counter.Limit.Window, At)),
    };
}

/// <summary>One counter a hold (a reservation or a lease) takes money in.</summary>
/// <param name="Limit">The first limit naming the counter.</param>
/// <param name="Period">The window's code (<see cref="BudgetPeriods.ToCode"/>).</param>
/// <param name="Start">The stored start of the period the hold is taken in.</param>
/// <param name="Cap">The cap in nano-dollars, rounded down (<see cref="BudgetMoney.CapToNanos"/>).</param>
internal readonly record struct BudgetCounterHold(BudgetLimit Limit, string Period, long Start, long Cap)
{
    /// <summary>The budget's scope (<c>key:…</c>, <c>team:…</c>, …).</summary>
    public string Scope => Limit.Scope;

    /// <summary>
    /// The counters of <paramref name="limits"/> at <paramref name="at"/>, each (scope, window) once, in their order: the
    /// same counter twice would hold the money twice.
    /// </summary>
    public static List<BudgetCounterHold> Distinct(IReadOnlyList<BudgetLimit> limits, DateTimeOffset at)
    {
        var counters = new List<BudgetCounterHold>(limits.Count);
        foreach (var limit in limits)
        {
            var period = BudgetPeriods.ToCode(limit.Window);
            if (!counters.Exists(counter => counter.Scope == limit.Scope && counter.Period == period))
            {
                counters.Add(new BudgetCounterHold(limit, period, SqliteLedgerSchema.ToStoredTimestamp(BudgetPeriods.Start(limit.Window, at)), BudgetMoney.CapToNanos(limit.CapUsd)));
            }
        }

        return counters;
    }
}

/// <summary>What a hold's end releases and charges, the same arithmetic in every budget store (nano-dollars).</summary>
internal static class BudgetHoldEnd
{
    /// <summary>
    /// A settlement of a hold of <paramref name="held"/> that cost <paramref name="actual"/>: an open hold releases what it
    /// holds and is charged the cost; one a sweep reclaimed (<paramref name="reclaimed"/>: what the reclaim accounted for)
    /// no longer holds money and is charged only what the reclaim did not.
    /// </summary>
    public static (long Release, long Charge) Settle(long held, long? reclaimed, long actual) =>
        reclaimed is { } charged ? (0, Math.Max(0, actual - charged)) : (held, actual);

    /// <summary>
    /// What a sweep keeps held of an expired lease of <paramref name="amount"/> whose records cost
    /// <paramref name="leaseSpent"/>: its unspent slice, for one more lease life (its tail), so records of requests still
    /// running are charged against it; nothing for a lease of before lease lives were stored (<paramref name="leaseTtl"/> null).
    /// </summary>
    public static long LeaseTail(long amount, long leaseSpent, long? leaseTtl) =>
        leaseTtl is not null ? Math.Max(0, amount - leaseSpent) : 0;
}
