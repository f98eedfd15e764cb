using ModelMix.Catalog;

namespace ModelMix.Server;

/// <summary>Where a request goes and why; <paramref name="EscalatedFrom"/> is set on a cascade's escalated tiers and a fallback's next model.</summary>
internal sealed record Route(string Model, string Policy, string Reason, string? EscalatedFrom = null);

/// <summary>
/// One upstream call of a request, as the pipeline's steps hand it on: the checked request, its route, the body sent
/// (only <c>model</c>, effort and cache breakpoints ever rewritten), the headers forwarded, and the budget hold every
/// attempt is charged to. <see cref="UpstreamSender"/> sends it, <see cref="AttemptLedger"/> records its attempts,
/// <see cref="AnswerRelay"/> writes its answer.
/// </summary>
internal sealed record CallContext(
    string RequestId,
    MessagesRequest Request,
    Route Route,
    byte[] Body,
    string AnthropicVersion,
    string? AnthropicBeta,
    string? SessionId,
    string? TaskLabel,
    BudgetHold Budget)
{
    /// <summary>The shadow pair id when shadow mode sampled this request (ProxyShadow.cs).</summary>
    public string? ShadowPairId { get; init; }

    /// <summary>A copy of the relayed stream for the shadow comparison, when sampled and streamed.</summary>
    public ProxyShadow.StreamCapture? ShadowCapture { get; init; }

    /// <summary>The client's query string (with its <c>?</c>), forwarded unchanged; null when it sent none.</summary>
    public string? Query { get; init; }

    /// <summary>The <c>output_config.effort</c> the body carries (the caller's, or a routing decision's).</summary>
    public EffortLevel Effort { get; init; }

    /// <summary>The request's client and the token its upstream calls run under (ClientHangups.cs).</summary>
    public ClientHangups.CallWatch? Watch { get; init; }
}
