namespace ModelMix.Catalog;

/// <summary>Why a model would reject a request as it is (<see cref="ModelRuleCheck"/>); <see cref="None"/> when it accepts it.</summary>
public enum RuleViolation : byte
{
    /// <summary>The model accepts the request.</summary>
    None = 0,

    /// <summary>The model rejects <c>tool_choice</c> <c>any</c> / <c>tool</c>.</summary>
    ForcedToolUse,

    /// <summary>The model cannot have thinking disabled (at this effort).</summary>
    ThinkingDisabled,

    /// <summary>The model rejects manual extended thinking (<c>budget_tokens</c>).</summary>
    ThinkingManual,

    /// <summary>The model does not support adaptive thinking.</summary>
    ThinkingAdaptive,

    /// <summary>The model rejects <c>thinking: between_tools</c> (at this effort).</summary>
    ThinkingBetweenTools,

    /// <summary>The model rejects non-default <c>temperature</c> / <c>top_p</c> / <c>top_k</c>.</summary>
    SamplingParameters,

    /// <summary>The model refuses <c>temperature</c> and <c>top_p</c> in the same request.</summary>
    TemperatureAndTopP,

    /// <summary>The model takes no <c>effort</c> parameter.</summary>
    EffortUnsupported,

    /// <summary>The model does not accept the requested effort level.</summary>
    EffortLevel,

    /// <summary>The model rejects an assistant prefill.</summary>
    AssistantPrefill,

    /// <summary>The model rejects a versioned tool type the request uses.</summary>
    ToolType,

    /// <summary>The prompt is longer than the model's context window.</summary>
    ContextWindow,

    /// <summary><c>max_tokens</c> is more than the model's maximum output.</summary>
    MaxOutput,

    /// <summary>The model is retired.</summary>
    Retired,

    /// <summary>The model rejects the <c>inference_geo</c> parameter (data residency).</summary>
    InferenceGeo,

    /// <summary>The request asks for fast mode (<c>speed: "fast"</c>) and the model has none at that time (no fast-mode price in force).</summary>
    FastMode,
}
