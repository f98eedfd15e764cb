namespace ModelMix.Pricing;

/// <summary>
/// One model in the catalog: its canonical id, the aliases that resolve to it, its price periods, and the facts routing
/// needs (context window, maximum output, lifecycle, request rules, substitutes).
/// </summary>
public sealed record ModelPriceEntry
{
    /// <summary>The canonical model id (the dated snapshot id when the model has one).</summary>
    public required string Id { get; init; }

    /// <summary>Other names that resolve to this model (e.g. <c>claude-sonnet-4-5</c> for <c>claude-sonnet-4-5-20250929</c>).</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>A human-readable name such as "Claude Sonnet 4.5"; null when the file gives none.</summary>
    public string? DisplayName { get; init; }

    /// <summary>The model family (<c>haiku</c>, <c>sonnet</c>, <c>opus</c>); null when the file gives none.</summary>
    public string? Family { get; init; }

    /// <summary>The public page the prices were taken from; null for user entries that give none.</summary>
    public string? Source { get; init; }

    /// <summary>The minimum cacheable prompt length in tokens; null when unknown or when caching is unsupported.</summary>
    public int? MinCacheableTokens { get; init; }

    /// <summary>The lifecycle status the documentation gives (<c>active</c>, <c>legacy</c>, <c>deprecated</c>, <c>retired</c>, <c>preview</c>); null when unknown.</summary>
    public string? Status { get; init; }

    /// <summary>When the model was released; null when unknown.</summary>
    public DateTimeOffset? Released { get; init; }

    /// <summary>When the model stops (or stopped) answering, when a date is announced; routing never picks a retired model.</summary>
    public DateTimeOffset? Retirement { get; init; }

    /// <summary>The context window in tokens; null when unknown (not checked).</summary>
    public long? ContextWindow { get; init; }

    /// <summary>The most <c>max_tokens</c> the model accepts on the Messages API; null when unknown (not checked).</summary>
    public long? MaxOutput { get; init; }

    /// <summary>
    /// Models (canonical ids) routing may use instead of this one, in order, for a request this one rejects as it is
    /// (e.g. forced tool use on a model that refuses it).
    /// </summary>
    public IReadOnlyList<string> Substitutes { get; init; } = [];

    /// <summary>The model's request rules; <see cref="Catalog.ModelRules.Permissive"/> when the catalog states none.</summary>
    public Catalog.ModelRules Rules { get; init; } = Catalog.ModelRules.Permissive;

    /// <summary>The price periods, ordered by <see cref="ModelPrice.EffectiveFrom"/>, never overlapping.</summary>
    public required IReadOnlyList<ModelPrice> Periods { get; init; }
}
