namespace ModelMix.Audit;

/// <summary>
/// One task label's traffic as the recommendations need it: what it cost, which model served most of it, what the
/// same tokens cost on other models, and the cost of its cheap-first path (retries and escalations included).
/// </summary>
internal sealed record AuditTaskCost
{
    /// <summary>The task label (<c>(none)</c> for unlabelled records).</summary>
    public required string Task { get; init; }

    /// <summary>Records of the task.</summary>
    public long Calls { get; init; }

    /// <summary>Requests of the task (records with attempt 1).</summary>
    public long Requests { get; init; }

    /// <summary>Exact recorded cost.</summary>
    public decimal CostUsd { get; init; }

    /// <summary>The model that served most of the task's first attempts (canonical id).</summary>
    public string? MainModel { get; init; }

    /// <summary>Model id → what every record of the task would cost on it.</summary>
    public IReadOnlyDictionary<string, decimal> RepricedUsd { get; init; } = new Dictionary<string, decimal>();

    /// <summary>
    /// Model id → records of the task it could not have served (prompt over its context window, output over its maximum,
    /// an <c>inference_geo</c> it refuses: <see cref="Evaluation.WhatIfRepricing"/>); only models with any. In
    /// <see cref="RepricedUsd"/> they count at what they cost as recorded.
    /// </summary>
    public IReadOnlyDictionary<string, long> InfeasibleCalls { get; init; } = new Dictionary<string, long>();

    /// <summary>The 95th percentile latency of the task's first attempts, in milliseconds (nearest rank); null when none recorded one.</summary>
    public long? P95LatencyMs { get; init; }

    /// <summary>Per model the task's requests started on: the cost of that path, and what its first attempts would cost elsewhere.</summary>
    public IReadOnlyList<AuditFirstModelPath> Paths { get; init; } = [];
}
