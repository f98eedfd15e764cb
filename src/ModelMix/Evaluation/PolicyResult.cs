namespace ModelMix.Evaluation;

/// <summary>One replayed policy's figures over the evaluated prompts.</summary>
internal sealed record PolicyResult
{
    /// <summary>The policy's name (<c>always-cheap</c>, <c>learned</c>, <c>oracle</c>, …).</summary>
    public required string Name { get; init; }

    /// <summary>The total cost of the policy's calls, USD.</summary>
    public required decimal CostUsd { get; init; }

    /// <summary>The mean quality of its answers.</summary>
    public required double Quality { get; init; }

    /// <summary>Its quality as a fraction of always-top's.</summary>
    public required double QualityPctOfTop { get; init; }

    /// <summary>Its cost as a fraction of always-top's.</summary>
    public required double CostPctOfTop { get; init; }

    /// <summary>The share of calls per model (fractions summing to 1; a cascade counts each call).</summary>
    public required IReadOnlyDictionary<string, double> ShareByModel { get; init; }

    /// <summary>Quality points per dollar: the sum of qualities over the total cost.</summary>
    public required double AccuracyPerDollar { get; init; }

    /// <summary>RouteLLM's APGR of the policy's cheap-vs-top threshold sweep; null for a policy without a score.</summary>
    public double? Apgr { get; init; }

    /// <summary>The APGR's bootstrap interval (<see cref="RouterMetrics.Bootstrap"/>), for a policy that ranks prompts by its own scores; null otherwise.</summary>
    public ApgrInterval? ApgrInterval { get; init; }

    /// <summary>RouteLLM's CPT(50%): the share of top-model calls needed to recover half the gap; null without a score.</summary>
    public double? Cpt50 { get; init; }

    /// <summary>RouteLLM's CPT(80%); null without a score.</summary>
    public double? Cpt80 { get; init; }

    /// <summary>How the figures were obtained, when it needs saying.</summary>
    public string? Note { get; init; }

    /// <summary>The sweep as (cost fraction of top, quality fraction of top) points, for the chart; null without a score.</summary>
    public IReadOnlyList<(double Cost, double Quality)>? Curve { get; init; }
}
