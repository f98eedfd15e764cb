namespace ModelMix.Budgets;

/// <summary>
/// How much of an answer's cost its key can be charged (issue 20 item 5, docs/keys-and-budgets.md "Overshoot"). A
/// budget store applies it where the charge is made — in the ledger's batch transaction, with the key's counters locked
/// — so the key's <c>spent</c> never passes <c>cap + W</c>, whatever the upstream reports:
/// <list type="bullet">
/// <item>A charge up to what the hold still holds (<c>free</c>) is always made in full: it moves money from held to
/// spent, so <c>spent + reserved</c> does not grow (an honest answer is charged exactly as before).</item>
/// <item>Beyond that, a counter's <c>spent + reserved</c> may grow only up to <c>cap + W</c>, where <c>W</c> is the
/// request's own hold (its estimator worst case, × the distrust factor) for a request reserved on its own, and 0 for a
/// record charged to a budget lease (whose requests' holds live in one process's memory, not in the store).</item>
/// </list>
/// Every new hold needs <c>spent + reserved + amount ≤ cap</c>, so <c>spent + reserved ≤ cap + W</c> holds at every
/// commit, and once nothing is held the key's spent is at most its cap plus the largest hold one of its requests took.
/// What the answer cost beyond the chargeable amount is the <em>overrun</em>: recorded on the ledger row
/// (<c>overrun_usd</c>) and charged to no key. All amounts are nano-dollars.
/// </summary>
internal static class BudgetOverrunRule
{
    /// <summary>A counter the charge lands in, as locked for the charge.</summary>
    /// <param name="SpentNanos">Its spent money.</param>
    /// <param name="ReservedNanos">Its held money (including what the charged hold still holds).</param>
    /// <param name="CapNanos">The cap the hold was taken under; null for a hold taken before caps were stored (no bound).</param>
    public readonly record struct Counter(long SpentNanos, long ReservedNanos, long? CapNanos);

    /// <summary>
    /// The most that can be charged to a hold whose counters are <paramref name="counters"/>: <paramref name="free"/>
    /// (what the hold still holds; 0 once it was released) plus the least room any counter has up to its
    /// <c>cap + <paramref name="slack"/></c>.
    /// </summary>
    public static long Chargeable(long free, long slack, IEnumerable<Counter> counters)
    {
        ArgumentNullException.ThrowIfNull(counters);
        var room = long.MaxValue;
        foreach (var counter in counters)
        {
            if (counter.CapNanos is { } cap)
            {
                room = Math.Min(room, Math.Max(0, cap + slack - counter.SpentNanos - counter.ReservedNanos));
            }
        }

        return room == long.MaxValue ? long.MaxValue : Math.Max(0, free) + room;
    }

    /// <summary>Splits <paramref name="cost"/> into what is charged to the key and the overrun charged to no key.</summary>
    public static (long Charged, long Overrun) Split(long cost, long chargeable)
    {
        var charged = Math.Min(Math.Max(0, cost), Math.Max(0, chargeable));
        return (charged, Math.Max(0, cost) - charged);
    }
}
