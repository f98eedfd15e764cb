namespace ModelMix.Budgets;

/// <summary>How long the budget stores keep what they keep, the same in every store backend.</summary>
internal static class BudgetRetention
{
    /// <summary>How long a reclaimed reservation is kept (so a late settlement charges only what the reclaim did not).</summary>
    public static readonly TimeSpan Reclaimed = TimeSpan.FromDays(7);
}
