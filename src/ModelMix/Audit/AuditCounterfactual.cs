namespace ModelMix.Audit;

/// <summary>
/// What the same tokens would have cost all on one model (each call priced at the rates in force when it was made).
/// Bill and actual cover the same calls: the priced ones (routing calls count in the actual only: one model needs no
/// classifier); unpriced calls are in neither, and are reported apart (<see cref="AuditReport.UnpricedCalls"/>).
/// </summary>
/// <param name="Name"><c>all-on-top</c> or <c>all-on-baseline</c>.</param>
/// <param name="Model">The canonical model id.</param>
/// <param name="CostUsd">The counterfactual bill.</param>
/// <param name="ActualUsd">What the priced calls cost as recorded (<see cref="AuditReport.TotalUsd"/>).</param>
/// <param name="SavedUsd">Counterfactual minus actual: what the actual mix saved (negative: it cost more).</param>
internal sealed record AuditCounterfactual(string Name, string Model, decimal CostUsd, decimal ActualUsd, decimal SavedUsd)
{
    /// <summary>
    /// Calls <see cref="Model"/> could not have served (prompt over its context window, output over its maximum, an
    /// <c>inference_geo</c> it refuses: <see cref="Evaluation.WhatIfRepricing"/>); <see cref="CostUsd"/> counts them at
    /// what they cost as recorded.
    /// </summary>
    public long InfeasibleCalls { get; init; }

    /// <summary>What the <see cref="InfeasibleCalls"/> cost as recorded (part of <see cref="CostUsd"/>).</summary>
    public decimal InfeasibleUsd { get; init; }
}
