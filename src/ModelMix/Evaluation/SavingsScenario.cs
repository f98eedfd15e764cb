namespace ModelMix.Evaluation;

/// <summary>What the same traffic costs under one hypothesis (as used, all on one model, a what-if mix).</summary>
/// <param name="Name">A short name, e.g. <c>as-used</c>, <c>all-on claude-haiku-4-5</c>, <c>mix haiku=70,sonnet=30</c>.</param>
/// <param name="TotalUsd">The scenario's total cost.</param>
/// <param name="ByModel">Cost per model the scenario runs traffic on.</param>
/// <param name="DifferenceUsd">Scenario total minus the baseline total (negative: the scenario is cheaper).</param>
/// <param name="DifferenceFraction">The difference as a fraction of the baseline (0 when the baseline is zero).</param>
internal sealed record SavingsScenario(
    string Name,
    decimal TotalUsd,
    IReadOnlyDictionary<string, decimal> ByModel,
    decimal DifferenceUsd,
    decimal DifferenceFraction)
{
    /// <summary>
    /// Calls some share of which the scenario's models could not have served; those shares stay on the model that served
    /// the call, at its as-used cost (so <see cref="ByModel"/> can name a model the scenario does not move traffic to).
    /// </summary>
    public long InfeasibleCalls { get; init; }

    /// <summary>Per scenario model and reason: the calls it could not have served, and what they were priced at as served.</summary>
    public IReadOnlyList<WhatIfInfeasible> Infeasible { get; init; } = [];

    /// <summary>
    /// For a mix whose entries name an effort: how each such entry's output tokens were estimated. Non-empty means
    /// <see cref="TotalUsd"/> is an estimate, not a repricing of recorded tokens.
    /// </summary>
    public IReadOnlyList<WhatIfEffortEstimate> EffortEstimates { get; init; } = [];
}
