namespace ModelMix.Audit;

/// <summary>A suggested pin for one task label, with the evidence and the money behind it.</summary>
internal sealed record Recommendation
{
    /// <summary>The task label.</summary>
    public required string Task { get; init; }

    /// <summary>What kind of suggestion this is.</summary>
    public required RecommendationKind Kind { get; init; }

    /// <summary>The model that serves most of the task today.</summary>
    public string? CurrentModel { get; init; }

    /// <summary>The model to pin the task to (canonical id).</summary>
    public required string Model { get; init; }

    /// <summary>Agreement of <see cref="Model"/> with the reference (null for ledger-only suggestions).</summary>
    public WilsonInterval? Agreement { get; init; }

    /// <summary>More samples at the same rate that would lift the lower bound to the bar (0: already clear; null: never, or not applicable).</summary>
    public long? MoreSamplesNeeded { get; init; }

    /// <summary>The task's monthly spend today, projected from the audited range.</summary>
    public decimal CurrentMonthlyUsd { get; init; }

    /// <summary>The task's monthly spend on <see cref="Model"/>.</summary>
    public decimal RecommendedMonthlyUsd { get; init; }

    /// <summary>
    /// Calls of the audited range that <see cref="Model"/> could not have served (prompt over its context window, output
    /// over its maximum, an <c>inference_geo</c> it refuses); <see cref="RecommendedMonthlyUsd"/> counts them at what they
    /// cost as recorded, and <see cref="Reason"/> says so.
    /// </summary>
    public long InfeasibleCalls { get; init; }

    /// <summary>Current minus recommended monthly spend.</summary>
    public decimal MonthlySavingUsd => CurrentMonthlyUsd - RecommendedMonthlyUsd;

    /// <summary>One sentence that says why.</summary>
    public required string Reason { get; init; }
}
