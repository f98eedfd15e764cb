namespace ModelMix.Pricing;

/// <summary>Five rates in USD per single token (the per-million rate divided by 1,000,000, exact in decimal).</summary>
internal sealed class RateSet
{
    private const decimal TokensPerMillion = 1_000_000m;

    public RateSet(decimal input, decimal output, decimal cacheWrite5m, decimal cacheWrite1h, decimal cacheRead)
    {
        Input = input / TokensPerMillion;
        Output = output / TokensPerMillion;
        CacheWrite5m = cacheWrite5m / TokensPerMillion;
        CacheWrite1h = cacheWrite1h / TokensPerMillion;
        CacheRead = cacheRead / TokensPerMillion;
    }

    private RateSet(RateSet source, decimal multiplier)
    {
        Input = source.Input * multiplier;
        Output = source.Output * multiplier;
        CacheWrite5m = source.CacheWrite5m * multiplier;
        CacheWrite1h = source.CacheWrite1h * multiplier;
        CacheRead = source.CacheRead * multiplier;
    }

    public decimal Input { get; }

    public decimal Output { get; }

    public decimal CacheWrite5m { get; }

    public decimal CacheWrite1h { get; }

    public decimal CacheRead { get; }

    /// <summary>These rates times <paramref name="multiplier"/> (exact; precomputed so the hot path skips it).</summary>
    public RateSet Scale(decimal multiplier) => new(this, multiplier);
}
