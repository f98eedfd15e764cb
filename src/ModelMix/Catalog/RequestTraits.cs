namespace ModelMix.Catalog;

/// <summary>
/// What a request asks of a model that some models refuse: forced tool use, a thinking mode, sampling parameters,
/// an effort level, an assistant prefill, versioned tool types. Extracted once by either door (the proxy from the JSON
/// body, the library from <c>ChatOptions</c>) and checked against each candidate's <see cref="ModelRules"/> by
/// <see cref="ModelRuleCheck"/>. A value type: checking allocates nothing.
/// </summary>
public readonly record struct RequestTraits
{
    /// <summary>The request's <c>tool_choice.type</c>.</summary>
    public ToolChoiceMode ToolChoice { get; init; }

    /// <summary>The request's <c>thinking.type</c>.</summary>
    public ThinkingMode Thinking { get; init; }

    /// <summary>Whether <c>temperature</c>, <c>top_p</c> or <c>top_k</c> is sent with a value other than the API's default.</summary>
    public bool NonDefaultSampling { get; init; }

    /// <summary>The request's <c>output_config.effort</c>.</summary>
    public EffortLevel Effort { get; init; }

    /// <summary>Whether both <c>temperature</c> and <c>top_p</c> are sent (some models refuse the pair, even at defaults).</summary>
    public bool TemperatureAndTopP { get; init; }

    /// <summary>Whether the last message is the assistant's (a prefill the model is asked to continue).</summary>
    public bool AssistantPrefill { get; init; }

    /// <summary>Whether the request sends <c>inference_geo</c> (data residency), which models before Claude Opus 4.6 refuse.</summary>
    public bool InferenceGeo { get; init; }

    /// <summary>Whether the request asks for fast mode (<c>speed: "fast"</c>), which a model without fast mode refuses.</summary>
    public bool FastMode { get; init; }

    /// <summary>Whether earlier turns carry <c>thinking</c> or <c>redacted_thinking</c> blocks (preserved thinking).</summary>
    public bool CarriesThinking { get; init; }

    /// <summary>
    /// The <c>type</c>s of the request's versioned (server or client) tools, e.g. <c>computer_20251124</c>; null when it
    /// offers only custom tools or none (the common case, so nothing is allocated for it).
    /// </summary>
    public IReadOnlyList<string>? ToolTypes { get; init; }

    /// <summary>Whether forced tool use is asked for (<c>tool_choice</c> <c>any</c> or <c>tool</c>).</summary>
    public bool ForcesToolUse => ToolChoice is ToolChoiceMode.Any or ToolChoiceMode.Tool;
}
