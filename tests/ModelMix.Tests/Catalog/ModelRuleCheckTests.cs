using ModelMix.Catalog;
using ModelMix.Pricing;

namespace ModelMix.Tests.Catalog;

/// <summary>One check of a request's traits against a model's documented rules.</summary>
public sealed class ModelRuleCheckTests
{
    private static readonly PriceBook Book = PriceBook.Default;
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    public static TheoryData<string, string, RuleViolation> Cases => new()
    {
        { "claude-opus-5-5", "forced-any", RuleViolation.ForcedToolUse },
        { "claude-opus-5-5", "forced-tool", RuleViolation.ForcedToolUse },
        { "claude-sonnet-5-5", "forced-any", RuleViolation.ForcedToolUse },
        { "claude-fable-5-1", "forced-any", RuleViolation.ForcedToolUse },
        { "claude-haiku-5-5", "forced-any", RuleViolation.None },
        { "claude-opus-5", "forced-any", RuleViolation.None },
        { "claude-opus-5-5", "thinking-disabled", RuleViolation.ThinkingDisabled },
        { "claude-opus-5", "thinking-disabled", RuleViolation.None },
        { "claude-opus-5", "thinking-disabled-xhigh", RuleViolation.ThinkingDisabled },
        { "claude-haiku-5-5", "thinking-disabled-max", RuleViolation.ThinkingDisabled },
        { "claude-haiku-5-5", "thinking-disabled-high", RuleViolation.None },
        { "claude-sonnet-5", "thinking-manual", RuleViolation.ThinkingManual },
        { "claude-sonnet-4-6", "thinking-manual", RuleViolation.None },
        { "claude-haiku-4-5", "thinking-adaptive", RuleViolation.ThinkingAdaptive },
        { "claude-sonnet-5-5", "thinking-between-tools", RuleViolation.None },
        { "claude-sonnet-5-5", "thinking-between-tools-max", RuleViolation.ThinkingBetweenTools },
        { "claude-opus-5-5", "thinking-between-tools", RuleViolation.ThinkingBetweenTools },
        { "claude-sonnet-5", "sampling", RuleViolation.SamplingParameters },
        { "claude-sonnet-4-6", "sampling", RuleViolation.None },
        { "claude-haiku-4-5", "temperature-and-top-p", RuleViolation.TemperatureAndTopP },
        { "claude-opus-4-5", "temperature-and-top-p", RuleViolation.None },
        { "claude-haiku-4-5", "effort-low", RuleViolation.EffortUnsupported },
        { "claude-opus-4-6", "effort-xhigh", RuleViolation.EffortLevel },
        { "claude-opus-5-5", "effort-xhigh", RuleViolation.None },
        { "claude-haiku-5-5", "prefill", RuleViolation.AssistantPrefill },
        { "claude-haiku-4-5", "prefill", RuleViolation.None },
        { "claude-sonnet-5-5", "computer-old", RuleViolation.ToolType },
        { "claude-sonnet-5", "computer-old", RuleViolation.None },
        { "claude-sonnet-4-5", "plain", RuleViolation.Retired },
        { "claude-haiku-4-5", "max-tokens-100k", RuleViolation.MaxOutput },
        { "claude-haiku-5-5", "max-tokens-100k", RuleViolation.None },
        { "claude-haiku-4-5", "prompt-300k", RuleViolation.ContextWindow },
        { "claude-opus-5-5", "plain", RuleViolation.None },

        // Fast mode (https://platform.claude.com/docs/en/build-with-claude/fast-mode): stated (Opus 5.5, Fable 5.2, Mythos
        // 5.2, whose rate is not in the catalog), else a fastMultiplier in force (Opus 5); Opus 4.8's was removed.
        { "claude-opus-5-5", "fast", RuleViolation.None },
        { "claude-fable-5-2", "fast", RuleViolation.None },
        { "claude-mythos-5-2", "fast", RuleViolation.None },
        { "claude-opus-5", "fast", RuleViolation.None },
        { "claude-opus-4-8", "fast", RuleViolation.FastMode },
        // Opus 4.6 keeps its 6x fast price (old fast calls still price) but states fastMode false: removed, as FakeAnthropic says.
        { "claude-opus-4-6", "fast", RuleViolation.FastMode },
        { "claude-sonnet-5-5", "fast", RuleViolation.FastMode },
        { "claude-haiku-5-5", "fast", RuleViolation.FastMode },

        // inference_geo: refused by every model released before Claude Opus 4.6 (https://platform.claude.com/docs/en/build-with-claude/data-residency).
        { "claude-haiku-4-5", "inference-geo", RuleViolation.InferenceGeo },
        { "claude-opus-4-1", "inference-geo", RuleViolation.InferenceGeo },
        { "claude-3-haiku-20240307", "inference-geo", RuleViolation.InferenceGeo },
        { "claude-opus-4-6", "inference-geo", RuleViolation.None },
        { "claude-haiku-5-5", "inference-geo", RuleViolation.None },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_documented_rule_is_checked(string model, string feature, RuleViolation expected)
    {
        var (traits, input, max) = Feature(feature);

        Assert.Equal(expected, ModelRuleCheck.Check(Book.GetEntry(model), traits, input, max, Now));
    }

    [Fact]
    public void A_model_without_stated_rules_accepts_everything() =>
        Assert.Equal(RuleViolation.None, ModelRuleCheck.Check(ModelRules.Permissive, new RequestTraits { ToolChoice = ToolChoiceMode.Any, Thinking = ThinkingMode.Disabled, NonDefaultSampling = true, Effort = EffortLevel.Max, AssistantPrefill = true }));

    internal static (RequestTraits Traits, long Input, long? MaxTokens) Feature(string feature) => feature switch
    {
        "forced-any" => (new RequestTraits { ToolChoice = ToolChoiceMode.Any }, 100, 1024),
        "forced-tool" => (new RequestTraits { ToolChoice = ToolChoiceMode.Tool }, 100, 1024),
        "thinking-disabled" => (new RequestTraits { Thinking = ThinkingMode.Disabled }, 100, 1024),
        "thinking-disabled-xhigh" => (new RequestTraits { Thinking = ThinkingMode.Disabled, Effort = EffortLevel.XHigh }, 100, 1024),
        "thinking-disabled-max" => (new RequestTraits { Thinking = ThinkingMode.Disabled, Effort = EffortLevel.Max }, 100, 1024),
        "thinking-disabled-high" => (new RequestTraits { Thinking = ThinkingMode.Disabled, Effort = EffortLevel.High }, 100, 1024),
        "thinking-manual" => (new RequestTraits { Thinking = ThinkingMode.Manual }, 100, 4096),
        "thinking-adaptive" => (new RequestTraits { Thinking = ThinkingMode.Adaptive }, 100, 1024),
        "thinking-between-tools" => (new RequestTraits { Thinking = ThinkingMode.BetweenTools }, 100, 1024),
        "thinking-between-tools-max" => (new RequestTraits { Thinking = ThinkingMode.BetweenTools, Effort = EffortLevel.Max }, 100, 1024),
        "sampling" => (new RequestTraits { NonDefaultSampling = true }, 100, 1024),
        "temperature-and-top-p" => (new RequestTraits { NonDefaultSampling = true, TemperatureAndTopP = true }, 100, 1024),
        "effort-low" => (new RequestTraits { Effort = EffortLevel.Low }, 100, 1024),
        "effort-xhigh" => (new RequestTraits { Effort = EffortLevel.XHigh }, 100, 1024),
        "prefill" => (new RequestTraits { AssistantPrefill = true }, 100, 1024),
        "computer-old" => (new RequestTraits { ToolTypes = ["computer_20251124"] }, 100, 1024),
        "fast" => (new RequestTraits { FastMode = true }, 100, 1024),
        "inference-geo" => (new RequestTraits { InferenceGeo = true }, 100, 1024),
        "max-tokens-100k" => (default, 100, 100_000),
        "prompt-300k" => (default, 300_000, 1024),
        _ => (default, 100, 1024),
    };
}
