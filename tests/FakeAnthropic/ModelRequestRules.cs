using System.Text.Json;
using System.Text.Json.Nodes;

namespace FakeAnthropic;

/// <summary>How a model treats <c>thinking: {"type": "disabled"}</c>.</summary>
public enum DisabledThinking
{
    /// <summary>Accepted (thinking may be turned off).</summary>
    Accepted,

    /// <summary>Accepted only at effort <c>low</c> / <c>medium</c> / <c>high</c>; <c>xhigh</c> and <c>max</c> get a 400.</summary>
    UpToHighEffort,

    /// <summary>Always a 400: thinking is always on.</summary>
    Rejected,

    /// <summary>Always a 400 whose message points to <c>"between_tools"</c> (Claude Sonnet 5.5).</summary>
    RejectedUseBetweenTools,
}

/// <summary>How a model treats <c>temperature</c> / <c>top_p</c> / <c>top_k</c> (under <c>anthropic-version: 2023-06-01</c>).</summary>
public enum SamplingRule
{
    /// <summary>No per-model restriction.</summary>
    Free,

    /// <summary><c>temperature</c> and <c>top_p</c> in the same request get a 400 (even at their defaults).</summary>
    NotTogether,

    /// <summary>Any non-default value gets a 400: <c>temperature</c> other than 1, or any <c>top_p</c> / <c>top_k</c>.</summary>
    DefaultOnly,
}

/// <summary>The documented per-model request rules of one Claude model (one row of <see cref="ModelRequestRules"/>).</summary>
public sealed record ModelRule
{
    /// <summary>The model id (the alias the docs use).</summary>
    public required string Id { get; init; }

    /// <summary>Dated snapshot ids the docs give for the same model (they answer to the same rules).</summary>
    public IReadOnlyList<string> DatedIds { get; init; } = [];

    /// <summary>The largest accepted <c>max_tokens</c>; null when the docs give none (no check).</summary>
    public int? MaxOutputTokens { get; init; }

    /// <summary>Whether <c>tool_choice</c> <c>{"type":"any"}</c> / <c>{"type":"tool"}</c> gets a 400 (also on count_tokens).</summary>
    public bool RejectsForcedToolUse { get; init; }

    /// <summary>Whether <c>thinking: {"type": "adaptive"}</c> is accepted.</summary>
    public bool Adaptive { get; init; }

    /// <summary>Whether manual extended thinking (<c>{"type": "enabled", "budget_tokens": N}</c>) is accepted.</summary>
    public bool ManualThinking { get; init; }

    /// <summary>How <c>{"type": "disabled"}</c> is treated.</summary>
    public DisabledThinking Disabled { get; init; }

    /// <summary>Whether <c>{"type": "between_tools"}</c> is accepted (at effort high or below).</summary>
    public bool BetweenTools { get; init; }

    /// <summary>The accepted <c>output_config.effort</c> levels; null when the model does not support effort at all.</summary>
    public IReadOnlyList<string>? EffortLevels { get; init; }

    /// <summary>The effort level that applies when <c>output_config.effort</c> is absent.</summary>
    public string? DefaultEffort { get; init; }

    /// <summary>The sampling-parameter rule.</summary>
    public SamplingRule Sampling { get; init; }

    /// <summary>Whether a conversation ending in an <c>assistant</c> message (prefill) gets a 400.</summary>
    public bool RejectsPrefill { get; init; }

    /// <summary>Whether the <c>computer_20251124</c> / <c>computer_20250124</c> tool versions get a 400.</summary>
    public bool RejectsLegacyComputerTools { get; init; }

    /// <summary>Whether <c>speed: "fast"</c> is accepted.</summary>
    public bool FastMode { get; init; }

    /// <summary>
    /// Whether a request that sends <c>inference_geo</c> (any value) gets a 400: every model released before Claude Opus
    /// 4.6 (https://platform.claude.com/docs/en/build-with-claude/data-residency).
    /// </summary>
    public bool RejectsInferenceGeo { get; init; }

    /// <summary>The model name error messages use: the dated snapshot when the docs give one, else the id.</summary>
    public string SnapshotName => DatedIds.Count > 0 ? DatedIds[0] : Id;
}

/// <summary>
/// The Claude API's documented per-model request rules, as an independent hand-written table: the fake answers a
/// request that breaks a rule of the model it names with the API's 400 <c>invalid_request_error</c>.
/// Written from the platform.claude.com docs (URL on each row), deliberately NOT from the library's own catalog,
/// so tests that pass against it prove the library agrees with the documented API. Unknown model ids get no rules.
/// </summary>
/// <remarks>
/// Error texts: those marked <c>[docs]</c> are verbatim from platform.claude.com; <c>[3P]</c> were seen only in
/// third-party reports of real API answers; <c>[unverified]</c> are the most plausible wording, not confirmed anywhere.
/// </remarks>
public static class ModelRequestRules
{
    private const string Low = "low";
    private const string Medium = "medium";
    private const string High = "high";
    private const string XHigh = "xhigh";
    private const string Max = "max";

    private static readonly string[] AllLevels = [Low, Medium, High, XHigh, Max];
    private static readonly string[] UpToMax = [Low, Medium, High, Max];
    private static readonly string[] UpToHigh = [Low, Medium, High];
    private static readonly string[] LegacyComputerTools = ["computer_20251124", "computer_20250124"];

    /// <summary>
    /// Models older than the rows of <see cref="Table"/> (all released before Claude Opus 4.6), with their aliases: the
    /// fake judges only their <c>inference_geo</c> rule ("Older models released before Opus 4.6 do not support the
    /// parameter. Requests with inference_geo on legacy models return a 400 error",
    /// https://platform.claude.com/docs/en/build-with-claude/data-residency). Ids from
    /// https://platform.claude.com/docs/en/about-claude/pricing.
    /// </summary>
    private static readonly HashSet<string> OlderThanOpus46 = new(StringComparer.Ordinal)
    {
        "claude-opus-4-1", "claude-opus-4-1-20250805", "claude-opus-4-0", "claude-opus-4-20250514",
        "claude-sonnet-4-0", "claude-sonnet-4-20250514", "claude-3-7-sonnet-latest", "claude-3-7-sonnet-20250219",
        "claude-3-5-haiku-latest", "claude-3-5-haiku-20241022", "claude-3-opus-latest", "claude-3-opus-20240229",
        "claude-3-sonnet-20240229", "claude-3-haiku-20240307",
    };

    /// <summary>
    /// The rows. Shared sources: thinking modes per model — https://platform.claude.com/docs/ja/build-with-claude/thinking-troubleshooting
    /// and https://platform.claude.com/docs/en/build-with-claude/extended-thinking ("Claude 4.7 and later models do not support it and
    /// reject requests that use it, returning a 400 error"); effort levels — https://platform.claude.com/docs/en/build-with-claude/effort
    /// and https://platform.claude.com/docs/zh-CN/build-with-claude/effort.md; prefill on 4.6+ —
    /// https://platform.claude.com/docs/es/about-claude/models/migration-guide; computer tool versions —
    /// https://platform.claude.com/docs/es/agents-and-tools/tool-use/computer-use-tool.md; fast mode —
    /// https://platform.claude.com/docs/en/build-with-claude/fast-mode and https://platform.claude.com/docs/zh-CN/build-with-claude/fast-mode.md.
    /// </summary>
    public static readonly IReadOnlyList<ModelRule> Table =
    [
        // https://platform.claude.com/docs/zh-CN/models/haiku-4-5/overview.md (200K / 64K, claude-haiku-4-5-20251001);
        // https://platform.claude.com/docs/en/models/haiku-4-5/migration-guide ("Setting both returns a 400 error on Claude Haiku 4.5");
        // https://platform.claude.com/docs/es/models/overview (default effort: "Not supported"); extended thinking only.
        new()
        {
            Id = "claude-haiku-4-5", DatedIds = ["claude-haiku-4-5-20251001"], MaxOutputTokens = 64_000,
            ManualThinking = true, Disabled = DisabledThinking.Accepted,
            EffortLevels = null, Sampling = SamplingRule.NotTogether, RejectsInferenceGeo = true,
        },

        // https://platform.claude.com/docs/zh-CN/models/sonnet-4-5/overview.md (200K / 64K, claude-sonnet-4-5-20250929);
        // https://platform.claude.com/docs/zh-CN/about-claude/models/migrating-to-claude-4 (temperature OR top_p, never both);
        // https://platform.claude.com/docs/zh-CN/build-with-claude/adaptive-thinking (no adaptive thinking); not in the effort list.
        new()
        {
            Id = "claude-sonnet-4-5", DatedIds = ["claude-sonnet-4-5-20250929"], MaxOutputTokens = 64_000,
            ManualThinking = true, Disabled = DisabledThinking.Accepted,
            EffortLevels = null, Sampling = SamplingRule.NotTogether, RejectsInferenceGeo = true,
        },

        // https://platform.claude.com/docs/zh-TW/models/opus-4-5/overview (200K / 64K, claude-opus-4-5-20251101, extended thinking only,
        // default effort high); effort page: neither xhigh nor max lists Opus 4.5. Sampling: no documented restriction.
        new()
        {
            Id = "claude-opus-4-5", DatedIds = ["claude-opus-4-5-20251101"], MaxOutputTokens = 64_000,
            ManualThinking = true, Disabled = DisabledThinking.Accepted,
            EffortLevels = UpToHigh, DefaultEffort = High, Sampling = SamplingRule.Free, RejectsInferenceGeo = true,
        },

        // https://platform.claude.com/docs/en/models/opus-4-6/overview.md (1M / 128K);
        // https://platform.claude.com/docs/zh-CN/about-claude/models/whats-new-claude-4-6 (budget_tokens deprecated but still works);
        // prefill 400 on Claude 4.6 models (migration guide). temperature + top_p together: [3P] only.
        new()
        {
            Id = "claude-opus-4-6", MaxOutputTokens = 128_000,
            Adaptive = true, ManualThinking = true, Disabled = DisabledThinking.Accepted,
            EffortLevels = UpToMax, DefaultEffort = High, Sampling = SamplingRule.NotTogether, RejectsPrefill = true,
        },

        // https://platform.claude.com/docs/zh-CN/models/sonnet-4-6/overview.md (1M / 128K); same rules as Opus 4.6
        // (effort page: max, not xhigh). temperature + top_p together: [3P] only.
        new()
        {
            Id = "claude-sonnet-4-6", MaxOutputTokens = 128_000,
            Adaptive = true, ManualThinking = true, Disabled = DisabledThinking.Accepted,
            EffortLevels = UpToMax, DefaultEffort = High, Sampling = SamplingRule.NotTogether, RejectsPrefill = true,
        },

        // https://platform.claude.com/docs/en/build-with-claude/extended-thinking (4.7+: no manual thinking); effort page (xhigh, max).
        // Context / max output not confirmed on a platform page: no max_tokens check. Sampling: non-default 400 ([3P] for this id).
        new()
        {
            Id = "claude-opus-4-7",
            Adaptive = true, Disabled = DisabledThinking.Accepted,
            EffortLevels = AllLevels, DefaultEffort = High, Sampling = SamplingRule.DefaultOnly, RejectsPrefill = true,
        },

        // https://platform.claude.com/docs/de/models/opus-4-8/overview.md (1M / 128K); fast mode removed 2026-11-30
        // (https://platform.claude.com/docs/zh-CN/build-with-claude/fast-mode.md: afterwards speed "fast" returns an error).
        new()
        {
            Id = "claude-opus-4-8", MaxOutputTokens = 128_000,
            Adaptive = true, Disabled = DisabledThinking.Accepted,
            EffortLevels = AllLevels, DefaultEffort = High, Sampling = SamplingRule.DefaultOnly, RejectsPrefill = true,
        },

        // https://platform.claude.com/docs/en/about-claude/models/whats-new-opus-5 and https://platform.claude.com/docs/zh-CN/models/opus-5/overview
        // (1M / 128K; thinking on by default, may be disabled only at effort high or below; full effort ladder, default high;
        // fast mode research preview).
        new()
        {
            Id = "claude-opus-5", MaxOutputTokens = 128_000,
            Adaptive = true, Disabled = DisabledThinking.UpToHighEffort,
            EffortLevels = AllLevels, DefaultEffort = High, Sampling = SamplingRule.DefaultOnly, RejectsPrefill = true,
            FastMode = true,
        },

        // https://platform.claude.com/docs/en/models/opus-5-5/whats-new-opus-5-5 and https://platform.claude.com/docs/zh-CN/models/opus-5-5/whats-new-opus-5-5
        // (thinking always on: "disabled" and "enabled" return 400 with the verbatim messages below; forced tool use returns an error;
        // computer_20251124 not accepted; default effort medium; 1M / 128K; fast mode GA).
        new()
        {
            Id = "claude-opus-5-5", MaxOutputTokens = 128_000, RejectsForcedToolUse = true,
            Adaptive = true, Disabled = DisabledThinking.Rejected,
            EffortLevels = AllLevels, DefaultEffort = Medium, Sampling = SamplingRule.DefaultOnly, RejectsPrefill = true,
            RejectsLegacyComputerTools = true, FastMode = true,
        },

        // https://platform.claude.com/docs/zh-CN/models/sonnet-5/overview and https://platform.claude.com/docs/zh-CN/models/sonnet-5/migration-guide
        // (1M / 128K; adaptive on by default, manual thinking 400, "disabled" accepted; non-default sampling 400; computer_20251124 still works).
        new()
        {
            Id = "claude-sonnet-5", MaxOutputTokens = 128_000,
            Adaptive = true, Disabled = DisabledThinking.Accepted,
            EffortLevels = AllLevels, DefaultEffort = High, Sampling = SamplingRule.DefaultOnly, RejectsPrefill = true,
        },

        // https://platform.claude.com/docs/en/models/sonnet-5-5/whats-new-sonnet-5-5, https://platform.claude.com/docs/zh-CN/models/sonnet-5-5/whats-new-sonnet-5-5
        // and https://platform.claude.com/docs/ko/models/sonnet-5-5/migration-guide (400 for thinking budgets, sampling parameters, prefill,
        // forced tool choice and "disabled" — the latter pointing to between_tools, available at low/medium/high only;
        // computer_20251124 not accepted; default effort high; 1M / 128K).
        new()
        {
            Id = "claude-sonnet-5-5", MaxOutputTokens = 128_000, RejectsForcedToolUse = true,
            Adaptive = true, Disabled = DisabledThinking.RejectedUseBetweenTools, BetweenTools = true,
            EffortLevels = AllLevels, DefaultEffort = High, Sampling = SamplingRule.DefaultOnly, RejectsPrefill = true,
            RejectsLegacyComputerTools = true,
        },

        // https://platform.claude.com/docs/en/models/haiku-5-5/overview.md (1M / 128K), https://platform.claude.com/docs/ja/models/haiku-5-5/whats-new-haiku-5-5
        // (manual thinking, non-default sampling and prefill return errors; computer use needs the toolset) and
        // https://platform.claude.com/docs/zh-CN/build-with-claude/prompt-engineering/prompting-claude-haiku-5-5 ("disabled" only at
        // low/medium/high; default effort medium).
        new()
        {
            Id = "claude-haiku-5-5", MaxOutputTokens = 128_000,
            Adaptive = true, Disabled = DisabledThinking.UpToHighEffort,
            EffortLevels = AllLevels, DefaultEffort = Medium, Sampling = SamplingRule.DefaultOnly, RejectsPrefill = true,
            RejectsLegacyComputerTools = true,
        },

        // https://platform.claude.com/docs/en/models/fable-5/overview.md (1M / 128K) and https://platform.claude.com/docs/zh-CN/models/fable-5/migration-guide
        // ("disabled" and manual thinking both 400; adaptive always on). Sampling: non-default 400 ([3P] for this id).
        new()
        {
            Id = "claude-fable-5", MaxOutputTokens = 128_000,
            Adaptive = true, Disabled = DisabledThinking.Rejected,
            EffortLevels = AllLevels, DefaultEffort = High, Sampling = SamplingRule.DefaultOnly, RejectsPrefill = true,
        },

        // Same specs and API surface as Claude Fable 5: https://platform.claude.com/docs/en/models/fable-5/overview.md
        new()
        {
            Id = "claude-mythos-5", MaxOutputTokens = 128_000,
            Adaptive = true, Disabled = DisabledThinking.Rejected,
            EffortLevels = AllLevels, DefaultEffort = High, Sampling = SamplingRule.DefaultOnly, RejectsPrefill = true,
        },

        // https://platform.claude.com/docs/zh-CN/models/fable-5-1/whats-new-fable-5-1 (forced tool use 400 with the verbatim message,
        // also on count_tokens; thinking always on) and https://platform.claude.com/docs/zh-CN/models/fable-5-1/overview.md (1M / 128K).
        new()
        {
            Id = "claude-fable-5-1", MaxOutputTokens = 128_000, RejectsForcedToolUse = true,
            Adaptive = true, Disabled = DisabledThinking.Rejected,
            EffortLevels = AllLevels, DefaultEffort = High, Sampling = SamplingRule.DefaultOnly, RejectsPrefill = true,
        },

        // https://platform.claude.com/docs/zh-CN/models/fable-5-1/whats-new-fable-5-1 (Mythos 5.1 shares the Fable 5.1 rules);
        // https://platform.claude.com/docs/en/release-notes/overview?entry=2026-09-01-2df3f01ad7fac00e (1M / 128K).
        new()
        {
            Id = "claude-mythos-5-1", MaxOutputTokens = 128_000, RejectsForcedToolUse = true,
            Adaptive = true, Disabled = DisabledThinking.Rejected,
            EffortLevels = AllLevels, DefaultEffort = High, Sampling = SamplingRule.DefaultOnly, RejectsPrefill = true,
        },

        // https://platform.claude.com/docs/en/models/fable-5-2/whats-new-fable-5-2 (1M / 128K; adaptive always on; computer_20251124
        // returns an error except on Bedrock; forced-tool-use rule carried over from 5.1, presumed) and the fast-mode page (GA).
        new()
        {
            Id = "claude-fable-5-2", MaxOutputTokens = 128_000, RejectsForcedToolUse = true,
            Adaptive = true, Disabled = DisabledThinking.Rejected,
            EffortLevels = AllLevels, DefaultEffort = High, Sampling = SamplingRule.DefaultOnly, RejectsPrefill = true,
            RejectsLegacyComputerTools = true, FastMode = true,
        },

        // https://platform.claude.com/docs/en/models/fable-5-2/whats-new-fable-5-2 (Mythos 5.2 shares the Fable 5.2 rules) and the fast-mode page.
        new()
        {
            Id = "claude-mythos-5-2", MaxOutputTokens = 128_000, RejectsForcedToolUse = true,
            Adaptive = true, Disabled = DisabledThinking.Rejected,
            EffortLevels = AllLevels, DefaultEffort = High, Sampling = SamplingRule.DefaultOnly, RejectsPrefill = true,
            RejectsLegacyComputerTools = true, FastMode = true,
        },

        // https://platform.claude.com/docs/ja/build-with-claude/thinking-troubleshooting (adaptive + extended, "disabled" rejected) and
        // https://platform.claude.com/docs/en/build-with-claude/effort (max, not xhigh). Context, max output, sampling and prefill: not documented.
        new()
        {
            Id = "claude-mythos-preview",
            Adaptive = true, ManualThinking = true, Disabled = DisabledThinking.Rejected,
            EffortLevels = UpToMax, DefaultEffort = High, Sampling = SamplingRule.Free,
        },
    ];

    private static readonly Dictionary<string, ModelRule> ById = BuildIndex();

    /// <summary>The rule row for a model id or one of its dated snapshot ids; null for an unknown id.</summary>
    public static ModelRule? Find(string model) => ById.GetValueOrDefault(model);

    /// <summary>
    /// The 400 message for a <c>POST /v1/messages</c> body (already structurally valid) that breaks a rule of its model, or null.
    /// Sampling rules apply only outside <c>anthropic-version: 2026-10-21</c>, where the parameters are removed outright.
    /// </summary>
    public static string? MessagesProblem(JsonObject body, string version)
    {
        if (RuleFor(body) is not { } rule)
        {
            return String(body["model"]) is { } model && OlderThanOpus46.Contains(model) ? InferenceGeoProblem(true, body) : null;
        }

        return MaxTokensProblem(rule, body)
            ?? EffortProblem(rule, body, out var effort)
            ?? ThinkingProblem(rule, body, effort)
            ?? (version == "2026-10-21" ? null : SamplingProblem(rule, body))
            ?? ToolChoiceProblem(rule, body)
            ?? ToolsProblem(rule, body)
            ?? PrefillProblem(rule, body)
            ?? SpeedProblem(rule, body)
            ?? InferenceGeoProblem(rule.RejectsInferenceGeo, body);
    }

    /// <summary>
    /// The 400 message for a <c>POST /v1/messages/count_tokens</c> body, or null: the docs say the forced-tool-use
    /// validation also applies to the token-counting endpoint.
    /// </summary>
    public static string? CountTokensProblem(JsonObject body) =>
        RuleFor(body) is { } rule ? ToolChoiceProblem(rule, body) : null;

    private static Dictionary<string, ModelRule> BuildIndex()
    {
        var index = new Dictionary<string, ModelRule>(StringComparer.Ordinal);
        foreach (var rule in Table)
        {
            index.Add(rule.Id, rule);
            foreach (var dated in rule.DatedIds)
            {
                index.Add(dated, rule);
            }
        }

        return index;
    }

    private static ModelRule? RuleFor(JsonObject body) =>
        String(body["model"]) is { } model ? Find(model) : null;

    private static string? MaxTokensProblem(ModelRule rule, JsonObject body)
    {
        if (rule.MaxOutputTokens is not { } limit
            || body["max_tokens"] is not JsonValue value
            || !value.TryGetValue<long>(out var maxTokens)
            || maxTokens <= limit)
        {
            return null;
        }

        return Messages.MaxTokens(maxTokens, limit, rule.SnapshotName);
    }

    private static string? EffortProblem(ModelRule rule, JsonObject body, out string? effort)
    {
        effort = rule.DefaultEffort;
        if (body["output_config"] is not JsonObject outputConfig || outputConfig["effort"] is not { } node)
        {
            return null;
        }

        if (rule.EffortLevels is not { } levels)
        {
            return Messages.EffortNotSupported;
        }

        var requested = String(node);
        if (requested is null || !AllLevels.Contains(requested, StringComparer.Ordinal))
        {
            return Messages.EffortUnknown;
        }

        if (!levels.Contains(requested, StringComparer.Ordinal))
        {
            return Messages.EffortLevelNotSupported(requested, levels);
        }

        effort = requested;
        return null;
    }

    private static string? ThinkingProblem(ModelRule rule, JsonObject body, string? effort)
    {
        if (body["thinking"] is not JsonObject thinking || String(thinking["type"]) is not { } type)
        {
            return null;
        }

        var aboveHigh = effort is XHigh or Max;
        switch (type)
        {
            case "adaptive":
                return rule.Adaptive ? null : Messages.AdaptiveNotSupported;
            case "enabled":
                return rule.ManualThinking ? null : Messages.ThinkingEnabledNotSupported;
            case "disabled":
                return rule.Disabled switch
                {
                    DisabledThinking.Rejected => Messages.ThinkingDisabledNotSupported,
                    DisabledThinking.RejectedUseBetweenTools => Messages.ThinkingDisabledUseBetweenTools,
                    DisabledThinking.UpToHighEffort when aboveHigh => Messages.EffortTooHighWithThinkingDisabled(effort!),
                    _ => null,
                };
            case "between_tools":
                if (!rule.BetweenTools)
                {
                    return Messages.BetweenToolsNotSupported;
                }

                return aboveHigh ? Messages.EffortTooHighWithBetweenTools(effort!) : null;
            default:
                return null;
        }
    }

    private static string? SamplingProblem(ModelRule rule, JsonObject body)
    {
        var temperature = body["temperature"];
        var topP = body["top_p"];
        switch (rule.Sampling)
        {
            case SamplingRule.DefaultOnly:
                if (temperature is not null && !IsExactlyOne(temperature))
                {
                    return Messages.SamplingDeprecated("temperature");
                }

                if (topP is not null)
                {
                    return Messages.SamplingDeprecated("top_p");
                }

                return body["top_k"] is not null ? Messages.SamplingDeprecated("top_k") : null;
            case SamplingRule.NotTogether:
                return temperature is not null && topP is not null ? Messages.TemperatureAndTopP : null;
            default:
                return null;
        }
    }

    private static string? ToolChoiceProblem(ModelRule rule, JsonObject body) =>
        rule.RejectsForcedToolUse
        && body["tool_choice"] is JsonObject choice
        && String(choice["type"]) is "any" or "tool"
            ? Messages.ForcedToolUse
            : null;

    private static string? ToolsProblem(ModelRule rule, JsonObject body)
    {
        if (!rule.RejectsLegacyComputerTools || body["tools"] is not JsonArray tools)
        {
            return null;
        }

        for (var i = 0; i < tools.Count; i++)
        {
            if (tools[i] is JsonObject tool && String(tool["type"]) is { } type
                && LegacyComputerTools.Contains(type, StringComparer.Ordinal))
            {
                return Messages.LegacyComputerTool(i, type);
            }
        }

        return null;
    }

    private static string? PrefillProblem(ModelRule rule, JsonObject body) =>
        rule.RejectsPrefill
        && body["messages"] is JsonArray { Count: > 0 } messages
        && messages[^1] is JsonObject last
        && String(last["role"]) == "assistant"
            ? Messages.Prefill
            : null;

    private static string? SpeedProblem(ModelRule rule, JsonObject body) =>
        !rule.FastMode && String(body["speed"]) == "fast" ? Messages.FastModeNotSupported : null;

    private static string? InferenceGeoProblem(bool rejects, JsonObject body) =>
        rejects && body["inference_geo"] is { } geo && geo.GetValueKind() != JsonValueKind.Null ? Messages.InferenceGeoNotSupported : null;

    private static string? String(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    private static bool IsExactlyOne(JsonNode node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.Number
        && value.TryGetValue<double>(out var number) && number == 1.0;

    /// <summary>The error texts (see the class remarks for the tags).</summary>
    public static class Messages
    {
        /// <summary>[docs] Fable 5.1 page (zh-CN, message in English): https://platform.claude.com/docs/zh-CN/models/fable-5-1/whats-new-fable-5-1 .
        /// Opus 5.5 / Sonnet 5.5 / Fable 5.2 / Mythos 5.2: same text presumed (their pages say only "returns an error").</summary>
        public const string ForcedToolUse = "tool_choice: type \"tool\" and \"any\" are not supported for this model.";

        /// <summary>[docs] https://platform.claude.com/docs/zh-CN/models/opus-5-5/whats-new-opus-5-5 (Opus 5.5; used for every always-on model).</summary>
        public const string ThinkingDisabledNotSupported =
            "\"thinking.type.disabled\" is not supported for this model. Use \"thinking.type.adaptive\" and \"output_config.effort\" to control thinking behavior.";

        /// <summary>[docs] https://platform.claude.com/docs/zh-CN/models/opus-5-5/whats-new-opus-5-5 (used for every model without manual thinking).</summary>
        public const string ThinkingEnabledNotSupported =
            "\"thinking.type.enabled\" is not supported for this model. Use \"thinking.type.adaptive\" and \"output_config.effort\" to control thinking behavior.";

        /// <summary>[unverified] Sonnet 5.5: the docs say only that the message "points to between_tools".</summary>
        public const string ThinkingDisabledUseBetweenTools =
            "\"thinking.type.disabled\" is not supported for this model. Use \"thinking.type.between_tools\" to turn off up-front thinking, or \"thinking.type.adaptive\" and \"output_config.effort\" to control thinking behavior.";

        /// <summary>[unverified] Models with extended thinking only (Claude 4.5 and earlier).</summary>
        public const string AdaptiveNotSupported =
            "\"thinking.type.adaptive\" is not supported for this model. Use \"thinking.type.enabled\" with \"thinking.budget_tokens\" instead.";

        /// <summary>[unverified] "Only Claude Sonnet 5.5 accepts between_tools" (thinking-troubleshooting page); the wording is not documented.</summary>
        public const string BetweenToolsNotSupported = "\"thinking.type.between_tools\" is not supported for this model.";

        /// <summary>[unverified] Claude Haiku 4.5 / Sonnet 4.5 do not support effort.</summary>
        public const string EffortNotSupported = "output_config.effort: This model does not support the effort parameter.";

        /// <summary>[unverified] A level outside low / medium / high / xhigh / max (schema-validation style).</summary>
        public const string EffortUnknown = "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'";

        /// <summary>[3P] Seen in real answers (strands-agents#1694, jobrunr/JavaClaw#36); the docs say only "returns a 400 error".</summary>
        public const string Prefill =
            "This model does not support assistant message prefill. The conversation must end with a user message.";

        /// <summary>[3P] Seen in real answers for Claude Haiku 4.5 / Sonnet 4.5 (the docs say only "returns a 400 error").</summary>
        public const string TemperatureAndTopP =
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one.";

        /// <summary>[unverified] No text found for speed "fast" on a model without fast mode.</summary>
        public const string FastModeNotSupported = "speed: Fast mode is not supported for this model.";

        /// <summary>
        /// [unverified] <c>inference_geo</c> on a model released before Claude Opus 4.6: the docs say only "Requests with
        /// inference_geo on legacy models return a 400 error" (https://platform.claude.com/docs/en/build-with-claude/data-residency).
        /// </summary>
        public const string InferenceGeoNotSupported = "inference_geo: This model does not support the inference_geo parameter.";

        /// <summary>[3P] Format of the real answer (e.g. "max_tokens: 16000 > 8192, which is the maximum allowed number of output tokens for claude-3-5-sonnet-20241022").</summary>
        public static string MaxTokens(long requested, int limit, string model) =>
            $"max_tokens: {requested} > {limit}, which is the maximum allowed number of output tokens for {model}";

        /// <summary>[3P] Seen in a real answer for thinking "disabled" at xhigh (logancyang/obsidian-copilot#2843); the docs say only "400".</summary>
        public static string EffortTooHighWithThinkingDisabled(string effort) =>
            $"output_config.effort '{effort}' is not supported when thinking is disabled on this model. Use effort 'high' or below, or enable thinking.";

        /// <summary>[unverified] Sonnet 5.5 between_tools at xhigh / max (the docs say only "returns a 400 error").</summary>
        public static string EffortTooHighWithBetweenTools(string effort) =>
            $"output_config.effort '{effort}' is not supported with \"thinking.type.between_tools\". Use effort 'high' or below, or use \"thinking.type.adaptive\".";

        /// <summary>[unverified] A valid level the model does not offer (e.g. xhigh on Opus 4.6).</summary>
        public static string EffortLevelNotSupported(string effort, IReadOnlyList<string> levels) =>
            $"output_config.effort '{effort}' is not supported for this model. Supported values: {string.Join(", ", levels.Select(l => $"'{l}'"))}.";

        /// <summary>[3P] The "`temperature` is deprecated for this model." answer of Opus 4.7+ (used for top_p / top_k too).</summary>
        public static string SamplingDeprecated(string parameter) => $"`{parameter}` is deprecated for this model.";

        /// <summary>[unverified] computer_20251124 / computer_20250124 on Claude 5.5-class models (the docs say only "return an error").</summary>
        public static string LegacyComputerTool(int index, string type) =>
            $"tools.{index}: \"{type}\" is not supported for this model. Use the \"computer_toolset_20260801\" toolset instead.";
    }
}
