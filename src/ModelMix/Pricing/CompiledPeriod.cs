namespace ModelMix.Pricing;

/// <summary>
/// One price period precomputed for the hot path: tick bounds and per-token rates, standard and long-context, each
/// also pre-multiplied by the batch multiplier.
/// </summary>
internal sealed class CompiledPeriod
{
    public CompiledPeriod(ModelPrice price, decimal batchMultiplier)
    {
        Price = price;
        FromTicks = price.EffectiveFrom.UtcTicks;
        ToTicks = price.EffectiveTo?.UtcTicks ?? long.MaxValue;
        Standard = new RateSet(price.Input, price.Output, price.CacheWrite5m, price.CacheWrite1h, price.CacheRead);
        if (price.LongContext is { } lc)
        {
            HasLongContext = true;
            LongContextThreshold = lc.ThresholdTokens;
            LongContext = new RateSet(lc.Input, lc.Output, lc.CacheWrite5m, lc.CacheWrite1h, lc.CacheRead);
        }
        else
        {
            LongContextThreshold = long.MaxValue;
            LongContext = Standard;
        }

        StandardBatch = Standard.Scale(batchMultiplier);
        LongContextBatch = LongContext.Scale(batchMultiplier);
        HasFast = price.FastMultiplier.HasValue;
        FastMultiplier = price.FastMultiplier ?? 1m;
    }

    public ModelPrice Price { get; }

    public long FromTicks { get; }

    public long ToTicks { get; }

    public RateSet Standard { get; }

    public RateSet StandardBatch { get; }

    public bool HasLongContext { get; }

    public long LongContextThreshold { get; }

    public RateSet LongContext { get; }

    public RateSet LongContextBatch { get; }

    public bool HasFast { get; }

    public decimal FastMultiplier { get; }
}
