namespace ModelMix.Routing;

/// <summary>
/// One routing rule as written in configuration (<c>ModelMix:Routing:Rules:N</c>) or a rules file: a name, the
/// conditions (all must hold; an unset condition always holds) and the target. Compiled into a
/// <see cref="RoutingRule"/>, which validates it.
/// </summary>
public sealed class RoutingRuleOptions
{
    /// <summary>The rule's unique name, quoted in every decision it makes and every error about it.</summary>
    public string? Name { get; set; }

    /// <summary>An optional note on why the rule exists, for people reading the configuration.</summary>
    public string? Description { get; set; }

    /// <summary>The request's task label is one of these (case-insensitive).</summary>
    public IList<string>? TaskLabels { get; set; }

    /// <summary>
    /// The request's newest user turn or its task label contains one of these words or phrases (case-insensitive, at
    /// word boundaries; a trailing <c>*</c> makes a prefix, e.g. <c>classif*</c>; a label such as
    /// <c>ticket-classify</c> has "classify" at a word boundary).
    /// </summary>
    public IList<string>? Keywords { get; set; }

    /// <summary>Estimated input tokens are at least this.</summary>
    public long? MinInputTokens { get; set; }

    /// <summary>Estimated input tokens are at most this.</summary>
    public long? MaxInputTokens { get; set; }

    /// <summary>The request offers at least this many tools.</summary>
    public int? MinTools { get; set; }

    /// <summary>The request offers at most this many tools.</summary>
    public int? MaxTools { get; set; }

    /// <summary>The request has images (true) or has none (false).</summary>
    public bool? HasImages { get; set; }

    /// <summary>The request asks for structured output (true) or does not (false).</summary>
    public bool? StructuredOutput { get; set; }

    /// <summary>The request's <c>max_tokens</c> is set and at least this.</summary>
    public long? MinMaxTokens { get; set; }

    /// <summary>The request's <c>max_tokens</c> is set and at most this.</summary>
    public long? MaxMaxTokens { get; set; }

    /// <summary>The conversation has at least this many turns.</summary>
    public int? MinDepth { get; set; }

    /// <summary>The conversation has at most this many turns.</summary>
    public int? MaxDepth { get; set; }

    /// <summary>Where matching requests go: a tier (<c>haiku</c>, <c>sonnet</c>, <c>opus</c>) or a model id or alias.</summary>
    public string? Target { get; set; }

    /// <summary>The confidence reported with this rule's decisions, 0 to 1; <see cref="DefaultConfidence"/> when unset.</summary>
    public double? Confidence { get; set; }

    /// <summary>
    /// The <c>output_config.effort</c> to send with the routed request (<c>low</c>, <c>medium</c>, <c>high</c>,
    /// <c>xhigh</c>, <c>max</c>), overriding the caller's own; the same as a <c>Target</c> such as <c>opus@low</c>.
    /// Clamped down to the routed model's highest accepted level, and not sent to a model that takes none.
    /// </summary>
    public string? Effort { get; set; }

    /// <summary>
    /// Whether matching requests are deferred to the Message Batches API (half price, answered within 24 h) instead
    /// of sent at once. At the proxy, a matching non-streaming <c>/v1/messages</c> request is queued and answered
    /// <c>202</c> with the batch job, as with the <c>x-modelmix-batch: true</c> header (see docs/batch.md).
    /// </summary>
    public bool? Batch { get; set; }

    /// <summary>The confidence of a rule that does not set one.</summary>
    public const double DefaultConfidence = 0.8;

    /// <summary>Whether the rule sets no condition at all (a catch-all, allowed only as the last rule).</summary>
    public bool HasNoConditions =>
        (TaskLabels is null || TaskLabels.Count == 0)
        && (Keywords is null || Keywords.Count == 0)
        && MinInputTokens is null && MaxInputTokens is null
        && MinTools is null && MaxTools is null
        && HasImages is null && StructuredOutput is null
        && MinMaxTokens is null && MaxMaxTokens is null
        && MinDepth is null && MaxDepth is null;
}
