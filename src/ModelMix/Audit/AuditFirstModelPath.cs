namespace ModelMix.Audit;

/// <summary>
/// The requests of one task that started on one model: what they cost in total (first attempts, retries and
/// escalations), and what their first attempts alone would have cost on other models.
/// </summary>
internal sealed record AuditFirstModelPath
{
    /// <summary>The model the requests started on.</summary>
    public required string Model { get; init; }

    /// <summary>Requests that started on it.</summary>
    public long Requests { get; init; }

    /// <summary>Cost of their first attempts.</summary>
    public decimal FirstAttemptUsd { get; init; }

    /// <summary>Cost of retries on the same model.</summary>
    public decimal RetryUsd { get; init; }

    /// <summary>Retry attempts.</summary>
    public long Retries { get; init; }

    /// <summary>Cost of the escalations away from it.</summary>
    public decimal EscalationUsd { get; init; }

    /// <summary>Escalation attempts away from it.</summary>
    public long Escalations { get; init; }

    /// <summary>The model escalations most often went to.</summary>
    public string? EscalationTarget { get; init; }

    /// <summary>Model id → what the first attempts would cost on it.</summary>
    public IReadOnlyDictionary<string, decimal> FirstAttemptRepricedUsd { get; init; } = new Dictionary<string, decimal>();

    /// <summary>Model id → first attempts it could not have served (counted at their recorded cost in <see cref="FirstAttemptRepricedUsd"/>); only models with any.</summary>
    public IReadOnlyDictionary<string, long> FirstAttemptInfeasibleCalls { get; init; } = new Dictionary<string, long>();

    /// <summary>First attempts + retries + escalations.</summary>
    public decimal TotalUsd => FirstAttemptUsd + RetryUsd + EscalationUsd;
}
