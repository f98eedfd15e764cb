namespace ModelMix.Catalog;

/// <summary>
/// The request rules of one model that routing must respect so that moving a request to it never turns a valid
/// request into a 400 (forced tool use, thinking modes, effort levels, sampling, prefill, tool versions), and which
/// models' thinking blocks it can read. Loaded from the catalog's <c>rules</c> object; each rule has its source page in
/// <see cref="Sources"/> and <c>docs/models.md</c>. A rule the catalog does not state is permissive (not checked).
/// </summary>
public sealed record ModelRules
{
    /// <summary>Rules that check nothing: a model the catalog states no rules for.</summary>
    public static ModelRules Permissive { get; } = new();

    /// <summary>Whether <c>tool_choice</c> <c>any</c> / <c>tool</c> (forced tool use) is accepted.</summary>
    public bool ForcedToolUse { get; init; } = true;

    /// <summary>Whether <c>thinking: {"type": "adaptive"}</c> is accepted.</summary>
    public bool AdaptiveThinking { get; init; } = true;

    /// <summary>Whether manual extended thinking (<c>{"type": "enabled", "budget_tokens": N}</c>) is accepted.</summary>
    public bool ManualThinking { get; init; } = true;

    /// <summary>Whether <c>thinking: {"type": "disabled"}</c> is accepted (see also <see cref="DisableThinkingMaxEffort"/>).</summary>
    public bool DisableThinking { get; init; } = true;

    /// <summary>
    /// When set, thinking may be disabled only at this effort or lower (e.g. <c>high</c> on Claude Opus 5); the model's
    /// <see cref="DefaultEffort"/> counts when the request sends none.
    /// </summary>
    public EffortLevel DisableThinkingMaxEffort { get; init; }

    /// <summary>
    /// Whether <c>thinking: {"type": "between_tools"}</c> is accepted (only Claude Sonnet 5.5, where it replaces
    /// <c>disabled</c>); a model whose thinking rules the catalog states accepts it only when it says so.
    /// </summary>
    public bool BetweenToolsThinking { get; init; } = true;

    /// <summary>When set, <c>between_tools</c> is accepted only at this effort or lower (the default effort counts when none is sent).</summary>
    public EffortLevel BetweenToolsMaxEffort { get; init; }

    /// <summary>Whether thinking is on when the request says nothing about it.</summary>
    public bool ThinkingOnByDefault { get; init; }

    /// <summary>The effort levels accepted; <see cref="EffortLevels.None"/> when the model takes no effort parameter.</summary>
    public EffortLevels Efforts { get; init; } = EffortLevels.Low | EffortLevels.Medium | EffortLevels.High | EffortLevels.XHigh | EffortLevels.Max;

    /// <summary>Whether the catalog states the effort levels (otherwise effort is not checked).</summary>
    public bool EffortsKnown { get; init; }

    /// <summary>The effort that applies when a request sends none; <see cref="EffortLevel.Unspecified"/> when unknown or none.</summary>
    public EffortLevel DefaultEffort { get; init; }

    /// <summary>Whether only the API's default <c>temperature</c> / <c>top_p</c> / <c>top_k</c> are accepted.</summary>
    public bool DefaultSamplingOnly { get; init; }

    /// <summary>Whether <c>temperature</c> and <c>top_p</c> may not be sent together (Claude Haiku 4.5, Sonnet 4.5).</summary>
    public bool TemperatureOrTopP { get; init; }

    /// <summary>Whether a last message from the assistant (prefill) is accepted.</summary>
    public bool AssistantPrefill { get; init; } = true;

    /// <summary>
    /// Whether the <c>inference_geo</c> request parameter (data residency) is accepted: Claude Opus 4.6 and later models
    /// take it, older ones answer 400 (https://platform.claude.com/docs/en/build-with-claude/data-residency).
    /// </summary>
    public bool InferenceGeo { get; init; } = true;

    /// <summary>
    /// Whether the model offers fast mode (<c>speed: "fast"</c>): <c>true</c> or <c>false</c> as the catalog states it
    /// (<c>fastMode</c>, for a model whose fast-mode rate is not published); null to follow the price periods, where a
    /// <c>fastMultiplier</c> in force means fast mode is offered then.
    /// </summary>
    public bool? FastMode { get; init; }

    /// <summary>Versioned tool <c>type</c>s the model rejects (e.g. <c>computer_20251124</c>).</summary>
    public IReadOnlyList<string> RejectedToolTypes { get; init; } = [];

    /// <summary>
    /// Whether thinking blocks are tied to the model and conversation (preserved thinking): a block made by a model not in
    /// <see cref="ReadsThinkingFrom"/> is dropped (and the model thinks again).
    /// </summary>
    public bool ThinkingTiedToModel { get; init; }

    /// <summary>The models (canonical ids) whose thinking blocks this model can read; itself included.</summary>
    public IReadOnlyList<string> ReadsThinkingFrom { get; init; } = [];

    /// <summary>The pages these rules were taken from.</summary>
    public IReadOnlyList<string> Sources { get; init; } = [];

    /// <summary>Whether <paramref name="effort"/> is one of <see cref="Efforts"/>.</summary>
    public bool AcceptsEffort(EffortLevel effort) => effort switch
    {
        EffortLevel.Low => (Efforts & EffortLevels.Low) != 0,
        EffortLevel.Medium => (Efforts & EffortLevels.Medium) != 0,
        EffortLevel.High => (Efforts & EffortLevels.High) != 0,
        EffortLevel.XHigh => (Efforts & EffortLevels.XHigh) != 0,
        EffortLevel.Max => (Efforts & EffortLevels.Max) != 0,
        _ => true,
    };
}
