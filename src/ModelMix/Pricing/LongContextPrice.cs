namespace ModelMix.Pricing;

/// <summary>
/// Long-context rates: when a request's <see cref="TokenUsage.TotalInputTokens"/> exceeds
/// <see cref="ThresholdTokens"/>, every token of that request (output included) bills at these rates instead of the
/// standard ones. All rates are USD per million tokens.
/// </summary>
/// <param name="ThresholdTokens">The prompt size that must be exceeded (strictly greater than) to switch to these rates.</param>
/// <param name="Input">Uncached input rate.</param>
/// <param name="Output">Output rate.</param>
/// <param name="CacheWrite5m">5-minute cache write rate.</param>
/// <param name="CacheWrite1h">1-hour cache write rate.</param>
/// <param name="CacheRead">Cache read rate.</param>
public sealed record LongContextPrice(
    long ThresholdTokens,
    decimal Input,
    decimal Output,
    decimal CacheWrite5m,
    decimal CacheWrite1h,
    decimal CacheRead);
