namespace ModelMix.Pricing;

/// <summary>One model in the price book: its canonical id, the aliases that resolve to it, and its price periods.</summary>
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

    /// <summary>The price periods, ordered by <see cref="ModelPrice.EffectiveFrom"/>, never overlapping.</summary>
    public required IReadOnlyList<ModelPrice> Periods { get; init; }
}
