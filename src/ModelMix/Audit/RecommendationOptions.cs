namespace ModelMix.Audit;

/// <summary>The bar a cheaper model must clear, and how sure we must be that it does.</summary>
internal sealed record RecommendationOptions
{
    /// <summary>The agreement rate with the reference model a candidate must reach (0–1); default 0.95.</summary>
    public double Bar { get; init; } = 0.95;

    /// <summary>Confidence level of the Wilson interval; the interval's lower bound must clear <see cref="Bar"/>. Default 0.95.</summary>
    public double Confidence { get; init; } = 0.95;

    /// <summary>A candidate agrees on a sample when its quality is at least the reference's minus this; default 0.</summary>
    public double Tolerance { get; init; }

    /// <summary>The reference model (tier or model); null: on each sample, the dearest candidate the price book knows.</summary>
    public string? ReferenceModel { get; init; }

    /// <summary>
    /// When not to route, by volume: a task projected under this many requests a month is not worth routing (the seeds'
    /// rule of thumb: under about 10k a month the savings rarely pay for the work); 0 turns it off. Default 10,000.
    /// </summary>
    public long MinMonthlyRequests { get; init; } = 10_000;

    /// <summary>When not to route, by money: a task projected under this many USD a month (the audit's low-volume flag); 0 turns it off.</summary>
    public decimal MinMonthlyUsd { get; init; }

    /// <summary>
    /// When not to route, by latency: per task label (case-insensitive), its p95 latency target in milliseconds. Such a
    /// task is routed by pins and rules only: a cascade, a meta-router or an escalation adds a whole call's latency.
    /// </summary>
    public IReadOnlyDictionary<string, long> LatencyTargetsMs { get; init; } = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);

    /// <summary>When not to route, by stakes: task labels whose answers must be perfect never get a cheaper model suggested.</summary>
    public IReadOnlyCollection<string> MustBePerfect { get; init; } = [];
}
