namespace ModelMix.Budgets;

/// <summary>The period a budget cap applies to. Day and month windows are UTC calendar periods.</summary>
public enum BudgetWindow
{
    /// <summary>A UTC calendar day (resets at 00:00Z).</summary>
    Day,

    /// <summary>A UTC calendar month (resets at 00:00Z on the first of the month).</summary>
    Month,

    /// <summary>All time: never resets (also used for per-session budgets).</summary>
    Total,
}
