namespace ModelMix.Routing;

/// <summary>Options of <see cref="MetaRouterPolicy"/>. The defaults work; set only what your app needs.</summary>
public sealed class MetaRouterOptions
{
    /// <summary>The system prompt the classifier gets unless <see cref="SystemPrompt"/> replaces it.</summary>
    public const string DefaultSystemPrompt =
        "You route requests to the cheapest Claude tier that will answer them well. " +
        "haiku: classification, extraction, tagging, short structured output, simple lookups. " +
        "sonnet: text a person reads, coding, multi-step reasoning, long context. " +
        "opus: architecture, security review, orchestration, long-horizon planning, the hardest reasoning. " +
        "Do not answer the request. Reply with JSON only: {\"tier\":\"haiku|sonnet|opus\",\"reason\":\"at most 12 words\"}.";

    /// <summary>The policy name recorded in decisions and on the classifier's ledger record.</summary>
    public string Name { get; set; } = MetaRouterPolicy.DefaultName;

    /// <summary>The tier or model the classifier call is sent to (cheap: it runs before every request).</summary>
    public string ClassifierModel { get; set; } = "haiku";

    /// <summary>
    /// The tiers the classifier may choose, each a tier of the price book or a model id; empty means every tier of
    /// the price book (<c>haiku</c>, <c>sonnet</c>, <c>opus</c> by default).
    /// </summary>
    public IList<string> Tiers { get; set; } = [];

    /// <summary>
    /// Where a request goes when the classification is malformed or the classifier call fails; null makes the policy
    /// decline instead, so the next policy of a <see cref="CompositePolicy"/> decides.
    /// </summary>
    public string? DefaultTier { get; set; } = "sonnet";

    /// <summary>The classifier's system prompt; it must ask for <c>{"tier":…,"reason":…}</c> JSON.</summary>
    public string SystemPrompt { get; set; } = DefaultSystemPrompt;

    /// <summary>At most this many characters of the request text are shown to the classifier (its input is paid for).</summary>
    public int MaxPromptChars { get; set; } = 4000;

    /// <summary>The classifier's <c>max_tokens</c>.</summary>
    public int MaxOutputTokens { get; set; } = 200;

    /// <summary>The confidence of a decision the classifier made.</summary>
    public double ClassifiedConfidence { get; set; } = 0.7;

    /// <summary>The confidence of a fallback decision.</summary>
    public double FallbackConfidence { get; set; } = 0.5;

    /// <summary>
    /// Whether a classifier call that throws falls back to <see cref="DefaultTier"/> (true) or lets the exception
    /// through (false). The caller's cancellation always propagates.
    /// </summary>
    public bool FallBackOnClassifierError { get; set; } = true;
}
