using ModelMix.Pricing;

namespace ModelMix.Ledger;

/// <summary>
/// The durable intent of one upstream attempt, journaled before the attempt is sent (docs/ledger.md, "Crash
/// consistency"): only what reconciliation needs to write the attempt's <see cref="LedgerStatus.OutcomeUnknown"/>
/// record if its process dies before recording it — its id (the id the attempt's own record will carry), when it
/// started, whose it is and where it was routed, and its worst-case usage. The record is built and priced only at
/// reconciliation (<see cref="ToOutcomeUnknownRecord"/>, priced with the price book in force at <see cref="CreatedAt"/>).
/// </summary>
public sealed record LedgerIntent
{
    /// <summary>The attempt's record id.</summary>
    public required string Id { get; init; }

    /// <summary>When the attempt started: its record's timestamp, the instant its price is taken at.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The request the attempt belongs to.</summary>
    public required string RequestId { get; init; }

    /// <summary>The budget reservation the attempt counts against, when a budget applies.</summary>
    public string? ReservationId { get; init; }

    /// <summary>The virtual key's id, if any.</summary>
    public string? KeyId { get; init; }

    /// <summary>The session id, if any.</summary>
    public string? SessionId { get; init; }

    /// <summary>The task label, if any.</summary>
    public string? TaskLabel { get; init; }

    /// <summary>The model (or alias) the caller asked for.</summary>
    public required string RequestedModel { get; init; }

    /// <summary>The model the attempt is sent to (the one its worst case is priced at).</summary>
    public required string RoutedModel { get; init; }

    /// <summary>The routing policy that chose the model.</summary>
    public string? Policy { get; init; }

    /// <summary>The attempt's number (<see cref="LedgerRecord.Attempt"/>).</summary>
    public int Attempt { get; init; } = 1;

    /// <summary>The model this attempt escalated from, if any.</summary>
    public string? EscalatedFrom { get; init; }

    /// <summary>The effort the attempt runs at (<see cref="LedgerRecord.Effort"/>).</summary>
    public string? Effort { get; init; }

    /// <summary>Whether <see cref="Effort"/> is the model's default.</summary>
    public bool EffortIsDefault { get; init; }

    /// <summary>Whether the attempt streams.</summary>
    public bool Streaming { get; init; }

    /// <summary>The shadow pair the attempt belongs to, if any.</summary>
    public string? ShadowPairId { get; init; }

    /// <summary>Worst-case input tokens (the request estimated from its size).</summary>
    public long InputTokens { get; init; }

    /// <summary>Worst-case output tokens (the request's output bound, <c>max_tokens</c>).</summary>
    public long OutputTokens { get; init; }

    /// <summary>
    /// The intent of the attempt <paramref name="attempt"/> describes (its id, timestamp, request, key, routing and
    /// effort), with <paramref name="worstCase"/>'s input and output tokens.
    /// </summary>
    public static LedgerIntent For(LedgerRecord attempt, TokenUsage worstCase, string? reservationId)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        return new LedgerIntent
        {
            Id = attempt.Id,
            CreatedAt = attempt.Timestamp,
            RequestId = attempt.RequestId,
            ReservationId = reservationId,
            KeyId = attempt.KeyId,
            SessionId = attempt.SessionId,
            TaskLabel = attempt.TaskLabel,
            RequestedModel = attempt.RequestedModel,
            RoutedModel = attempt.RoutedModel,
            Policy = attempt.Policy,
            Attempt = attempt.Attempt,
            EscalatedFrom = attempt.EscalatedFrom,
            Effort = attempt.Effort,
            EffortIsDefault = attempt.EffortIsDefault,
            Streaming = attempt.Streaming,
            ShadowPairId = attempt.ShadowPairId,
            InputTokens = Math.Max(0, worstCase.InputTokens),
            OutputTokens = Math.Max(0, worstCase.OutputTokens),
        };
    }

    /// <summary>
    /// The record the attempt becomes when its process died before recording it: status and error type
    /// <c>outcome_unknown</c>, no answer (HTTP status 0), the worst-case usage flagged estimated, and no cost yet —
    /// price it (<see cref="AttemptRecorder.Price"/>) at <see cref="CreatedAt"/>.
    /// </summary>
    public LedgerRecord ToOutcomeUnknownRecord() => new()
    {
        Id = Id,
        Timestamp = CreatedAt,
        RequestId = RequestId,
        SessionId = SessionId,
        KeyId = KeyId,
        TaskLabel = TaskLabel,
        RequestedModel = RequestedModel,
        RoutedModel = RoutedModel,
        Policy = Policy,
        Attempt = Attempt,
        EscalatedFrom = EscalatedFrom,
        Effort = Effort,
        EffortIsDefault = EffortIsDefault,
        Streaming = Streaming,
        ShadowPairId = ShadowPairId,
        Usage = new TokenUsage(InputTokens, OutputTokens),
        Status = LedgerStatus.OutcomeUnknown,
        ErrorType = "outcome_unknown",
        UsageEstimated = true,
    };
}
