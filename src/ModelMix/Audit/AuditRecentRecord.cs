namespace ModelMix.Audit;

/// <summary>One recent attempt, as the dashboard lists it (never a key, only its id).</summary>
/// <param name="Timestamp">When it started.</param>
/// <param name="RequestId">ModelMix's request id.</param>
/// <param name="TaskLabel">The caller's task label.</param>
/// <param name="KeyId">The virtual key's public id.</param>
/// <param name="RequestedModel">What the caller asked for.</param>
/// <param name="Model">The model that served it.</param>
/// <param name="Policy">The routing policy.</param>
/// <param name="Reason">The routing reason.</param>
/// <param name="Attempt">Attempt number.</param>
/// <param name="EscalatedFrom">The model it escalated from, if any.</param>
/// <param name="Status">Outcome code (<c>ok</c>, <c>error</c>, <c>failed</c>, <c>unpriced</c>).</param>
/// <param name="CostUsd">Recorded cost, null when unpriced.</param>
internal sealed record AuditRecentRecord(
    DateTimeOffset Timestamp,
    string RequestId,
    string? TaskLabel,
    string? KeyId,
    string RequestedModel,
    string Model,
    string? Policy,
    string? Reason,
    int Attempt,
    string? EscalatedFrom,
    string Status,
    decimal? CostUsd);
