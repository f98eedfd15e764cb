namespace ModelMix.Pricing;

/// <summary>
/// The list rates of one model during one effective-dated period, in USD per million tokens, before modifiers
/// (batch, fast mode, data residency). Cache rates are already resolved (explicit or from the multipliers).
/// </summary>
/// <param name="ModelId">The canonical model id the period belongs to.</param>
/// <param name="EffectiveFrom">First instant the period applies (inclusive).</param>
/// <param name="EffectiveTo">First instant it no longer applies (exclusive); null when open-ended.</param>
/// <param name="Input">Uncached input rate.</param>
/// <param name="Output">Output rate.</param>
/// <param name="CacheWrite5m">5-minute cache write rate.</param>
/// <param name="CacheWrite1h">1-hour cache write rate.</param>
/// <param name="CacheRead">Cache read rate.</param>
/// <param name="LongContext">Long-context rates, or null when the model has no long-context premium in this period.</param>
/// <param name="FastMultiplier">The fast-mode multiplier, or null when the model offers no fast mode in this period.</param>
public sealed record ModelPrice(
    string ModelId,
    DateTimeOffset EffectiveFrom,
    DateTimeOffset? EffectiveTo,
    decimal Input,
    decimal Output,
    decimal CacheWrite5m,
    decimal CacheWrite1h,
    decimal CacheRead,
    LongContextPrice? LongContext,
    decimal? FastMultiplier)
{
    /// <summary>Whether <paramref name="at"/> falls inside this period (from inclusive, to exclusive).</summary>
    /// <param name="at">The instant of the call.</param>
    public bool IsInForce(DateTimeOffset at) => at >= EffectiveFrom && (EffectiveTo is null || at < EffectiveTo.Value);
}
