using ModelMix.Pricing;

namespace ModelMix.Catalog;

/// <summary>
/// Whether a model accepts a request as it is: the one check used wherever ModelMix changes a request's model
/// (routing aliases, fallback chains, cooldown substitutes), on both doors. Allocation-free.
/// </summary>
public static class ModelRuleCheck
{
    /// <summary>The first rule of <paramref name="entry"/> that <paramref name="traits"/> breaks, or <see cref="RuleViolation.None"/>.</summary>
    /// <param name="entry">The candidate model's catalog entry.</param>
    /// <param name="traits">What the request asks of a model.</param>
    /// <param name="estimatedInputTokens">The prompt's estimated size; 0 when unknown (not checked).</param>
    /// <param name="maxTokens">The request's <c>max_tokens</c>; null when unknown (not checked).</param>
    /// <param name="at">Now: a model retired at or before this instant rejects everything.</param>
    public static RuleViolation Check(ModelPriceEntry entry, in RequestTraits traits, long estimatedInputTokens, long? maxTokens, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if ((entry.Retirement is { } retired && retired <= at) || string.Equals(entry.Status, "retired", StringComparison.Ordinal))
        {
            return RuleViolation.Retired;
        }

        if (entry.ContextWindow is { } context && estimatedInputTokens > context)
        {
            return RuleViolation.ContextWindow;
        }

        if (entry.MaxOutput is { } maxOutput && maxTokens is { } max && max > maxOutput)
        {
            return RuleViolation.MaxOutput;
        }

        if (traits.FastMode && !OffersFastMode(entry, at))
        {
            return RuleViolation.FastMode;
        }

        return Check(entry.Rules, traits);
    }

    /// <summary>The first of <paramref name="rules"/> that <paramref name="traits"/> breaks, or <see cref="RuleViolation.None"/>.</summary>
    /// <param name="rules">The candidate model's request rules.</param>
    /// <param name="traits">What the request asks of a model.</param>
    public static RuleViolation Check(ModelRules rules, in RequestTraits traits)
    {
        ArgumentNullException.ThrowIfNull(rules);
        if (traits.ForcesToolUse && !rules.ForcedToolUse)
        {
            return RuleViolation.ForcedToolUse;
        }

        switch (traits.Thinking)
        {
            case ThinkingMode.Disabled when !rules.DisableThinking:
                return RuleViolation.ThinkingDisabled;
            case ThinkingMode.Disabled when rules.DisableThinkingMaxEffort != EffortLevel.Unspecified
                && EffectiveEffort(rules, traits.Effort) is var effort and not EffortLevel.Unspecified and not EffortLevel.Other
                && effort > rules.DisableThinkingMaxEffort:
                return RuleViolation.ThinkingDisabled;
            case ThinkingMode.Manual when !rules.ManualThinking:
                return RuleViolation.ThinkingManual;
            case ThinkingMode.Adaptive or ThinkingMode.BetweenTools when !rules.AdaptiveThinking:
                return RuleViolation.ThinkingAdaptive;
            case ThinkingMode.BetweenTools when !rules.BetweenToolsThinking:
                return RuleViolation.ThinkingBetweenTools;
            case ThinkingMode.BetweenTools when rules.BetweenToolsMaxEffort != EffortLevel.Unspecified
                && EffectiveEffort(rules, traits.Effort) is var betweenEffort and not EffortLevel.Unspecified and not EffortLevel.Other
                && betweenEffort > rules.BetweenToolsMaxEffort:
                return RuleViolation.ThinkingBetweenTools;
        }

        if (traits.NonDefaultSampling && rules.DefaultSamplingOnly)
        {
            return RuleViolation.SamplingParameters;
        }

        if (traits.TemperatureAndTopP && rules.TemperatureOrTopP)
        {
            return RuleViolation.TemperatureAndTopP;
        }

        if (traits.Effort is not EffortLevel.Unspecified and not EffortLevel.Other && rules.EffortsKnown)
        {
            if (rules.Efforts == EffortLevels.None)
            {
                return RuleViolation.EffortUnsupported;
            }

            if (!rules.AcceptsEffort(traits.Effort))
            {
                return RuleViolation.EffortLevel;
            }
        }

        if (traits.AssistantPrefill && !rules.AssistantPrefill)
        {
            return RuleViolation.AssistantPrefill;
        }

        if (traits.InferenceGeo && !rules.InferenceGeo)
        {
            return RuleViolation.InferenceGeo;
        }

        if (traits.ToolTypes is { Count: > 0 } types && rules.RejectedToolTypes.Count > 0)
        {
            for (var i = 0; i < types.Count; i++)
            {
                for (var j = 0; j < rules.RejectedToolTypes.Count; j++)
                {
                    if (string.Equals(types[i], rules.RejectedToolTypes[j], StringComparison.Ordinal))
                    {
                        return RuleViolation.ToolType;
                    }
                }
            }
        }

        return RuleViolation.None;
    }

    /// <summary>A short phrase for a reason string, e.g. "rejects forced tool use (tool_choice any/tool)".</summary>
    /// <param name="violation">The broken rule.</param>
    public static string Describe(RuleViolation violation) => violation switch
    {
        RuleViolation.None => "accepts the request",
        RuleViolation.ForcedToolUse => "rejects forced tool use (tool_choice any/tool)",
        RuleViolation.ThinkingDisabled => "cannot have thinking disabled at this effort",
        RuleViolation.ThinkingManual => "rejects manual extended thinking (budget_tokens)",
        RuleViolation.ThinkingAdaptive => "does not support adaptive thinking",
        RuleViolation.ThinkingBetweenTools => "rejects thinking between_tools at this effort",
        RuleViolation.SamplingParameters => "rejects non-default temperature/top_p/top_k",
        RuleViolation.TemperatureAndTopP => "rejects temperature and top_p together",
        RuleViolation.EffortUnsupported => "takes no effort parameter",
        RuleViolation.EffortLevel => "does not accept the requested effort level",
        RuleViolation.AssistantPrefill => "rejects an assistant prefill",
        RuleViolation.ToolType => "rejects a tool version the request uses",
        RuleViolation.ContextWindow => "the prompt is longer than its context window",
        RuleViolation.MaxOutput => "max_tokens is over its maximum output",
        RuleViolation.Retired => "is retired",
        RuleViolation.InferenceGeo => "rejects inference_geo (data residency)",
        RuleViolation.FastMode => "has no fast mode (speed fast)",
        _ => "rejects the request",
    };

    /// <summary>
    /// Whether the model offers fast mode at <paramref name="at"/>: as its rules state (<c>fastMode</c>), else when the
    /// price period in force has a fast-mode multiplier (the catalog dates fast mode that way, e.g. its removal from
    /// Opus 4.8). A model with no period in force is not judged.
    /// </summary>
    /// <param name="entry">The model's catalog entry.</param>
    /// <param name="at">The time to judge at.</param>
    public static bool OffersFastMode(ModelPriceEntry entry, DateTimeOffset at)
    {
        if (entry.Rules.FastMode is { } stated)
        {
            return stated;
        }

        var periods = entry.Periods;
        for (var i = 0; i < periods.Count; i++)
        {
            if (periods[i].IsInForce(at))
            {
                return periods[i].FastMultiplier.HasValue;
            }
        }

        return true;
    }

    private static EffortLevel EffectiveEffort(ModelRules rules, EffortLevel requested) =>
        requested == EffortLevel.Unspecified ? rules.DefaultEffort : requested;
}
