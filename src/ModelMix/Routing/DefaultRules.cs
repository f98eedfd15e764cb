using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>
/// The rule set ModelMix ships, encoding the common guidance: classification, extraction, summarizing, tagging,
/// routing, labelling, detection, filtering, scoring and short structured output under ~8K tokens go to Haiku; writing
/// read by a person, multi-step reasoning and long context over ~20K tokens go to Sonnet; architecture, system design,
/// orchestration, whole-codebase refactors, novel problems, multi-agent work, long-horizon planning and security
/// review go to Opus; anything else goes to Sonnet. Task labels are tried before keywords, because a label is the
/// caller's own word; keywords are searched in the newest user turn and in the task label.
/// </summary>
public static class DefaultRules
{
    /// <summary>Context at or under this many estimated tokens is "short" (Haiku territory).</summary>
    public const long ShortContextTokens = 8_000;

    /// <summary>Context at or over this many estimated tokens is "long" (Sonnet at least).</summary>
    public const long LongContextTokens = 20_000;

    /// <summary>Task labels naming work that needs the strongest model go to Opus.</summary>
    public const string OpusTaskLabel = "opus-task-label";

    /// <summary>Classification, extraction, summarization and tagging labels on short context go to Haiku.</summary>
    public const string HaikuTaskLabel = "haiku-task-label";

    /// <summary>Labels for output a person reads (writing, explanations, chat; summaries of more than short context) go to Sonnet.</summary>
    public const string SonnetTaskLabel = "sonnet-task-label";

    /// <summary>Text or a task label with one of the seeds' Opus signals (<see cref="OpusSignals"/>) goes to Opus.</summary>
    public const string OpusKeywords = "opus-keywords";

    /// <summary>Structured output (parsed, not read) on short context goes to Haiku.</summary>
    public const string HaikuStructuredShort = "haiku-structured-short";

    /// <summary>Text or a task label with one of the seeds' Haiku signals (<see cref="HaikuSignals"/>), on short context and without tools, goes to Haiku.</summary>
    public const string HaikuKeywords = "haiku-keywords";

    /// <summary>Long context goes to Sonnet.</summary>
    public const string SonnetLongContext = "sonnet-long-context";

    /// <summary>Text that asks for multi-step reasoning goes to Sonnet.</summary>
    public const string SonnetReasoning = "sonnet-reasoning";

    /// <summary>The catch-all: everything else goes to Sonnet.</summary>
    public const string Otherwise = "otherwise-sonnet";

    /// <summary>
    /// The seeds' ten Haiku signals (classify, extract, summarize, tag, route, categorize, label, detect, filter,
    /// score) with their inflections, and sentiment; matched at word boundaries in the newest user turn and the task
    /// label, so "tag" does not match "tagline" nor "label" "labyrinth".
    /// </summary>
    public static IReadOnlyList<string> HaikuSignals { get; } =
    [
        "classif*",
        "extract", "extracts", "extracting", "extraction", "extractions",
        "summariz*", "summaris*",
        "tag", "tags", "tagged", "tagging",
        "route", "routes", "routed",
        "categoriz*", "categoris*",
        "label", "labels", "labeled", "labelled", "labeling", "labelling",
        "detect", "detects", "detecting", "detection",
        "filter", "filters", "filtered", "filtering",
        "score", "scores", "scored", "scoring",
        "sentiment",
    ];

    /// <summary>
    /// The seeds' eight Opus signals (architect, design system, orchestrate, refactor entire, novel, multi-agent,
    /// long-horizon, security review) with their common phrasings, and the earlier architecture and security phrases;
    /// matched at word boundaries in the newest user turn and the task label (a phrase also matches with hyphens, as
    /// labels are written). "Architect" and "novel" are signals as a verb and as an adjective of the work ("architect
    /// the pipeline", "a novel approach"), not as a job title or a book, which a pasted document mentions by chance.
    /// </summary>
    public static IReadOnlyList<string> OpusSignals { get; } =
    [
        "architect the", "architect a", "architect an", "architect our", "architect my", "architect this", "architect its",
        "architecting", "architected",
        "architecture review", "review the architecture", "review our architecture",
        "design system", "design a system", "design the system", "system design",
        "orchestrate", "orchestrates", "orchestrating", "orchestration", "orchestrator",
        "refactor entire", "refactor the entire", "refactor our entire", "refactor my entire", "refactor this entire",
        "refactoring the entire",
        "novel approach", "novel approaches", "novel algorithm", "novel solution", "novel method", "novel technique",
        "novel architecture", "novel design", "novel problem", "novel research",
        "multi-agent", "multi agent", "multiagent", "sub-agents", "subagents",
        "long-horizon", "long horizon", "long-term plan",
        "security review", "security audit", "threat model", "threat modeling",
    ];

    /// <summary>A fresh, editable copy of the default rules, in order (callers may insert their own before them).</summary>
    public static List<RoutingRuleOptions> CreateOptions() =>
    [
        new()
        {
            Name = OpusTaskLabel,
            Description = "The caller labelled the work as orchestration, architecture, security review or long-horizon planning.",
            TaskLabels = ["orchestration", "architect", "architecture", "architecture-review", "security-review", "planning", "long-horizon-planning"],
            Target = "opus",
            Confidence = 0.9,
        },
        new()
        {
            Name = HaikuTaskLabel,
            Description = "Classification, extraction, summarization and tagging on short context: Haiku does it well.",
            TaskLabels = ["classification", "extraction", "summarization", "tagging", "labeling", "moderation", "sentiment"],
            MaxInputTokens = ShortContextTokens,
            Target = "haiku",
            Confidence = 0.85,
        },
        new()
        {
            Name = SonnetTaskLabel,
            Description = "Output a person reads: writing, explanations, chat, and summaries past the short context Haiku takes.",
            TaskLabels = ["summarization", "writing", "explanation", "chat", "email", "report", "translation"],
            Target = "sonnet",
            Confidence = 0.8,
        },
        new()
        {
            Name = OpusKeywords,
            Description = "The newest user turn or the task label asks for architecture, system design, orchestration, a whole-codebase refactor, novel work, multi-agent or long-horizon work, or a security review.",
            Keywords = [.. OpusSignals],
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
            Description = "The newest user turn or the task label asks to classify, extract, summarize, tag, route, categorize, label, detect, filter or score, on short context and with no tools.",
            Keywords = [.. HaikuSignals],
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
