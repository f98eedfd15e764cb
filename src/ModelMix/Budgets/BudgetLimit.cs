namespace ModelMix.Budgets;

/// <summary>
/// One cap a request must fit under: a scope (whose money: <c>key:ID</c>, <c>session:…</c>), the window, the cap,
/// and the words that name it in a refusal.
/// </summary>
/// <param name="Scope">The stable id of whose spend is counted, e.g. <c>key:7Hq2…</c>.</param>
/// <param name="Label">How the refusal names the budget, e.g. <c>key 'team-a'</c>.</param>
/// <param name="Window">The window of the cap.</param>
/// <param name="CapUsd">The cap in USD.</param>
public sealed record BudgetLimit(string Scope, string Label, BudgetWindow Window, decimal CapUsd);
