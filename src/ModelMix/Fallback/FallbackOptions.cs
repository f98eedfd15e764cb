using ModelMix.Pricing;

namespace ModelMix.Pipeline;

/// <summary>
/// Options of <see cref="FallbackChatClient"/>: how often a model is retried after a transient failure, how long to
/// wait, and where to go when it keeps failing. The defaults retry; cross-model fallback needs a <see cref="Chain"/>.
/// </summary>
public sealed class FallbackOptions
{
    /// <summary>The configuration section the DI overload of <c>UseModelMixFallback</c> binds from.</summary>
    public const string SectionName = "ModelMix:Fallback";

    /// <summary>
    /// The fallback order, strongest first, as tiers (<c>opus</c>, <c>sonnet</c>, <c>haiku</c>) or model ids, e.g.
    /// <c>claude-opus-4-5 → claude-sonnet-4-5 → claude-haiku-4-5</c>. When a model keeps failing (retries spent,
    /// or a 429 whose retry-after is longer than <see cref="MaxRetryAfter"/>), the call goes to the next entry after
    /// it; a model not in the chain goes to the first entry. Empty (the default) means retries only.
    /// </summary>
    public IList<string> Chain { get; set; } = [];

    /// <summary>
    /// The model (tier or id) with a larger context window that a call goes to when the prompt is too long for its
    /// model (400 <c>invalid_request_error</c>, "prompt is too long"); <c>null</c> (the default) ends such a call with the error.
    /// </summary>
    public string? LongContextModel { get; set; }

    /// <summary>Retries on the same model after a 429, 529, 5xx, timeout or connection failure; 2 unless set, 0 for none.</summary>
    public int MaxRetriesPerModel { get; set; } = 2;

    /// <summary>The median first backoff delay (exponential, jittered); 0.5 s unless set.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest backoff delay; 8 s unless set. A server's retry-after is bounded by <see cref="MaxRetryAfter"/> instead.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>Whether backoff delays are jittered (the default), so that many callers do not retry in step.</summary>
    public bool UseJitter { get; set; } = true;

    /// <summary>
    /// The longest retry-after a 429 is waited out for; a longer one falls back along <see cref="Chain"/> at once.
    /// 60 s unless set. The retry-after is known only with a <see cref="FallbackRetryAfterHandler"/> in the HTTP pipeline.
    /// </summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The clock that backoff delays wait on. When <c>null</c>, the <see cref="System.TimeProvider"/> registered in the
    /// builder's services is used, else <see cref="System.TimeProvider.System"/>.
    /// </summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>
    /// Resolves tiers in <see cref="Chain"/> and <see cref="LongContextModel"/> and compares model names. When <c>null</c>,
    /// the <see cref="Pricing.PriceBook"/> registered in the builder's services is used, else <see cref="PriceBook.Default"/>.
    /// </summary>
    public PriceBook? PriceBook { get; set; }

    /// <summary>Old key names the configuration used (accepted for one release; each door warns at start).</summary>
    internal List<string> ObsoleteKeys { get; } = [];

    /// <summary>The jitter source (a value in [0, 1)); tests fix it. <c>null</c> uses Polly's.</summary>
    internal Func<double>? Randomizer { get; set; }
}
