using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>
/// The rule set ModelMix ships, encoding the common guidance: classification, extraction, tagging and short
/// structured output under ~8K tokens go to Haiku; output read by a person, multi-step reasoning and long context
/// over ~20K tokens go to Sonnet; orchestration, architecture, security review and long-horizon planning go to Opus;
/// anything else goes to Sonnet. Task labels are tried before keywords, because a label is the caller's own word.
/// </summary>
public static class DefaultRules
{
    /// <summary>Context at or under this many estimated tokens is "short" (Haiku territory).</summary>
    public const long ShortContextTokens = 8_000;

    /// <summary>Context at or over this many estimated tokens is "long" (Sonnet at least).</summary>
    public const long LongContextTokens = 20_000;

    /// <summary>Task labels naming work that needs the strongest model go to Opus.</summary>
    public const string OpusTaskLabel = "opus-task-label";

    /// <summary>Classification, extraction and tagging labels on short context go to Haiku.</summary>
    public const string HaikuTaskLabel = "haiku-task-label";

    /// <summary>Labels for output a person reads (summaries, writing, chat) go to Sonnet.</summary>
    public const string SonnetTaskLabel = "sonnet-task-label";

    /// <summary>Text that asks for architecture, security review, orchestration or long-horizon planning goes to Opus.</summary>
    public const string OpusKeywords = "opus-keywords";

    /// <summary>Structured output (parsed, not read) on short context goes to Haiku.</summary>
    public const string HaikuStructuredShort = "haiku-structured-short";

    /// <summary>Text that asks to classify, extract or tag, on short context and without tools, goes to Haiku.</summary>
    public const string HaikuKeywords = "haiku-keywords";

    /// <summary>Long context goes to Sonnet.</summary>
    public const string SonnetLongContext = "sonnet-long-context";

    /// <summary>Text that asks for multi-step reasoning goes to Sonnet.</summary>
    public const string SonnetReasoning = "sonnet-reasoning";

    /// <summary>The catch-all: everything else goes to Sonnet.</summary>
    public const string Otherwise = "otherwise-sonnet";

    /// <summary>A fresh, editable copy of the default rules, in order (callers may insert their own before them).</summary>
    public static List<RoutingRuleOptions> CreateOptions() =>
    [
        new()
        {
            Name = OpusTaskLabel,
            Description = "The caller labelled the work as orchestration, architecture, security review or long-horizon planning.",
            TaskLabels = ["orchestration", "architecture", "architecture-review", "security-review", "planning", "long-horizon-planning"],
            Target = "opus",
            Confidence = 0.9,
        },
        new()
        {
            Name = HaikuTaskLabel,
            Description = "Classification, extraction and tagging on short context: the output is parsed, and Haiku does it well.",
            TaskLabels = ["classification", "extraction", "tagging", "labeling", "moderation", "sentiment"],
            MaxInputTokens = ShortContextTokens,
            Target = "haiku",
            Confidence = 0.85,
        },
        new()
        {
            Name = SonnetTaskLabel,
            Description = "Output a person reads: summaries, writing, explanations, chat.",
            TaskLabels = ["summarization", "writing", "explanation", "chat", "email", "report", "translation"],
            Target = "sonnet",
            Confidence = 0.8,
        },
        new()
        {
            Name = OpusKeywords,
            Description = "The text asks for architecture or security review, orchestration of agents or long-horizon planning.",
            Keywords =
            [
                "architecture review", "review the architecture", "review our architecture", "system design",
                "security review", "security audit", "threat model", "threat modeling", "orchestrate", "orchestrator",
                "multi-agent", "sub-agents", "subagents", "long-horizon", "long-term plan",
            ],
            Target = "opus",
            Confidence = 0.7,
        },
        new()
        {
            Name = HaikuStructuredShort,
            Description = "Structured output (JSON schema, output format or a forced tool) on short context: parsed, not read.",
            StructuredOutput = true,
            MaxInputTokens = ShortContextTokens,
            Target = "haiku",
            Confidence = 0.75,
        },
        new()
        {
            Name = HaikuKeywords,
            Description = "The text asks to classify, categorize, extract or tag, on short context and with no tools.",
            Keywords = ["classif*", "categori*", "extract*", "tag", "tags", "tagging", "sentiment"],
            MaxInputTokens = ShortContextTokens,
            MaxTools = 0,
            Target = "haiku",
            Confidence = 0.65,
        },
        new()
        {
            Name = SonnetLongContext,
            Description = "Long context (~20K tokens and more) needs more than Haiku.",
            MinInputTokens = LongContextTokens,
            Target = "sonnet",
            Confidence = 0.8,
        },
        new()
        {
            Name = SonnetReasoning,
            Description = "Multi-step reasoning.",
            Keywords =
            [
                "step by step", "step-by-step", "reason through", "think through", "prove", "derive", "trade-off*",
                "tradeoff*", "pros and cons", "explain why", "root cause",
            ],
            Target = "sonnet",
            Confidence = 0.7,
        },
        new()
        {
            Name = Otherwise,
            Description = "Nothing more specific is known: Sonnet is the safe middle.",
            Target = "sonnet",
            Confidence = 0.5,
        },
    ];

    /// <summary>Compiles the default rules against a price book.</summary>
    /// <param name="priceBook">Resolves the tiers; <see cref="PriceBook.Default"/> when null.</param>
    public static RulesPolicy Create(PriceBook? priceBook = null) =>
        RulesPolicy.Create(CreateOptions(), priceBook ?? PriceBook.Default, RulesPolicy.DefaultName, "default rules");
}
