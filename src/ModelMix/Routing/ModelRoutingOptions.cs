namespace ModelMix.Pipeline;

/// <summary>Options of <see cref="ModelRoutingChatClient"/>. The defaults work; set only what your app needs.</summary>
public sealed class ModelRoutingOptions
{
    /// <summary>The policy name recorded when the caller's own model id is honoured instead of asking the policy.</summary>
    public const string CallerPolicyName = "caller";

    /// <summary>The policy name recorded when no policy was decisive and the inner client's default model is used.</summary>
    public const string UndecidedPolicyName = "undecided";

    /// <summary>The requested model recorded when the caller named none: ModelMix chose.</summary>
    public const string AutoAlias = "auto";

    /// <summary>
    /// Whether a model id the caller put in <c>ChatOptions.ModelId</c> is sent as is (<c>true</c>, the default), as a
    /// pin would be; when <c>false</c> the policy decides every call and the caller's id is only recorded.
    /// </summary>
    public bool HonourRequestedModel { get; set; } = true;

    /// <summary>
    /// Model ids that mean "let ModelMix choose" rather than a real model: always routed by the policy.
    /// Case-insensitive; <c>auto</c> unless changed.
    /// </summary>
    public ISet<string> Aliases { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { AutoAlias };

    /// <summary>
    /// The clock that stamps the request ids this stage creates. When <c>null</c>, the <see cref="System.TimeProvider"/>
    /// registered in the builder's services is used, else <see cref="System.TimeProvider.System"/>.
    /// </summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>
    /// The model catalog whose per-model request rules every decision is checked against (<see cref="Catalog.ModelFit"/>):
    /// a model that would reject the call as it is (forced tool use, thinking mode, effort, sampling, prefill) is
    /// replaced by one that accepts it, and the reason says so. The registered <see cref="Pricing.PriceBook"/>, else
    /// <see cref="Pricing.PriceBook.Default"/>, when null. A model id the caller names is never changed.
    /// </summary>
    public Pricing.PriceBook? PriceBook { get; set; }

    /// <summary>
    /// Whether a conversation that carries thinking blocks stays on the model that can read them when the policy moves it
    /// to a cheaper model that cannot (<see cref="Caching.ThinkingAffinity"/>; needs a session, <c>WithSession</c>).
    /// <c>true</c> by default; a pin, a dearer model and a model id the caller names are never held.
    /// </summary>
    public bool KeepThinkingModel { get; set; } = true;
}
