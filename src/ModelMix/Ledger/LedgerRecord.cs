using ModelMix.Pricing;

namespace ModelMix.Ledger;

/// <summary>
/// One attempt at an upstream call, as the ledger stores it. A request that was retried, escalated or shadowed has
/// one record per attempt, linked by <see cref="RequestId"/>.
/// </summary>
public sealed record LedgerRecord
{
    /// <summary>Unique id of this record (a ULID-like sortable string or a GUID).</summary>
    public required string Id { get; init; }

    /// <summary>When the attempt started (UTC); the price in force at this instant prices the record.</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>ModelMix's id for the client request; shared by every attempt of that request.</summary>
    public required string RequestId { get; init; }

    /// <summary>The upstream's <c>request-id</c> header, when it answered.</summary>
    public string? UpstreamRequestId { get; init; }

    /// <summary>Conversation / session id (<c>x-modelmix-session</c> or a ChatOptions property), if any.</summary>
    public string? SessionId { get; init; }

    /// <summary>Id of the virtual key that made the call (never the key itself).</summary>
    public string? KeyId { get; init; }

    /// <summary>The caller's task label, if any.</summary>
    public string? TaskLabel { get; init; }

    /// <summary>The model (or policy alias) the caller asked for.</summary>
    public required string RequestedModel { get; init; }

    /// <summary>The model this attempt was sent to.</summary>
    public required string RoutedModel { get; init; }

    /// <summary>The model id the upstream reported in its response (often the dated snapshot id).</summary>
    public string? ResponseModel { get; init; }

    /// <summary>The routing policy that chose <see cref="RoutedModel"/> (e.g. <c>passthrough</c>, <c>rules</c>, <c>cascade</c>).</summary>
    public string? Policy { get; init; }

    /// <summary>The human-readable reason the policy gave.</summary>
    public string? Reason { get; init; }

    /// <summary>
    /// 1 for the first attempt of a request, 2 for the first retry or escalation, and so on;
    /// <see cref="RoutingCallAttempt"/> (0) for a call made to route the request rather than to answer it.
    /// </summary>
    public int Attempt { get; init; } = 1;

    /// <summary>
    /// The <see cref="Attempt"/> of a routing call: a call ModelMix makes to decide where a request goes (the
    /// meta-router's classification). It is priced and recorded under the request's id, so the request's cost includes
    /// it. It is neither the request's first attempt nor a retry, so routes and requests are not counted twice.
    /// </summary>
    public const int RoutingCallAttempt = 0;

    /// <summary>The model this attempt escalated from (cascade), if it is an escalation.</summary>
    public string? EscalatedFrom { get; init; }

    /// <summary>Tokens by class and the billing modifiers reported in <c>usage</c>.</summary>
    public TokenUsage Usage { get; init; }

    /// <summary>Cost by component; <c>null</c> when the call could not be priced (never silently zero).</summary>
    public CostBreakdown? Cost { get; init; }

    /// <summary>Wall-clock time from dispatch to the last byte, in milliseconds.</summary>
    public long LatencyMs { get; init; }

    /// <summary>Whether the call was streamed.</summary>
    public bool Streaming { get; init; }

    /// <summary>Outcome of the attempt.</summary>
    public LedgerStatus Status { get; init; } = LedgerStatus.Ok;

    /// <summary>HTTP status of the upstream answer, or 0 when none arrived.</summary>
    public int HttpStatus { get; init; }

    /// <summary>Anthropic error type (e.g. <c>overloaded_error</c>) or ModelMix's own (<c>upstream_unreachable</c>, <c>unpriced_model</c>).</summary>
    public string? ErrorType { get; init; }

    /// <summary>
    /// The <c>output_config.effort</c> the attempt ran at (<c>low</c> … <c>max</c>): the level sent, or — when none was
    /// sent (<see cref="EffortIsDefault"/>) — the model's default from the catalog; null when the model takes no effort
    /// parameter or its default is unknown.
    /// </summary>
    public string? Effort { get; init; }

    /// <summary>Whether <see cref="Effort"/> is the model's default because the request sent none.</summary>
    public bool EffortIsDefault { get; init; }

    /// <summary>
    /// How many thinking blocks the API reported it dropped from this attempt's prompt (<c>input_transformations</c>
    /// entries of type <c>thinking_dropped</c>): reasoning paid for once and not reused.
    /// </summary>
    public int ThinkingBlocksDropped { get; init; }

    /// <summary>
    /// Whether the client went away before this attempt's answer was complete. The upstream call was made (and is
    /// billed) all the same: the proxy lets it finish and records its usage, or records an estimate
    /// (<see cref="UsageEstimated"/>) when it had to stop it (docs/ledger.md, "Clients that hang up").
    /// </summary>
    public bool ClientDisconnected { get; init; }

    /// <summary>
    /// Whether <see cref="Usage"/> is ModelMix's documented estimate rather than the usage the upstream reported: a
    /// stream that ended without its final usage, or a call stopped before it answered (docs/ledger.md).
    /// </summary>
    public bool UsageEstimated { get; init; }

    /// <summary>
    /// The part of this attempt's cost charged to no key (docs/keys-and-budgets.md, "Overshoot"): what an answer cost
    /// beyond what its key could be charged without passing its cap by more than the request's hold (an upstream that
    /// reported more than the request could cost). Null when none. <see cref="Cost"/> keeps the full cost the upstream
    /// billed; the key's budget counted <c>Cost.Total − OverrunUsd</c>.
    /// </summary>
    public decimal? OverrunUsd { get; init; }

    /// <summary>Links a live answer and its shadow answer.</summary>
    public string? ShadowPairId { get; init; }
}
