namespace ModelMix.Budgets;

/// <summary>The spend counted against one scope and window in the period containing an instant.</summary>
/// <param name="Window">The window.</param>
/// <param name="PeriodStart">The first instant of the period.</param>
/// <param name="SpentUsd">Settled spend.</param>
/// <param name="ReservedUsd">Money held by requests in flight.</param>
public sealed record BudgetUsage(BudgetWindow Window, DateTimeOffset PeriodStart, decimal SpentUsd, decimal ReservedUsd);
