namespace ModelMix.Pricing;

/// <summary>
/// The exact cost of one call in US dollars, per token class, after every modifier (batch, long context, fast mode,
/// data residency). Values are never rounded; round only for display.
/// </summary>
/// <param name="Input">Uncached input tokens.</param>
/// <param name="Output">Output tokens.</param>
/// <param name="CacheWrite5m">5-minute cache writes.</param>
/// <param name="CacheWrite1h">1-hour cache writes.</param>
/// <param name="CacheRead">Cache reads.</param>
/// <param name="ServerTools">
/// Server-tool fees: the uses counted in <c>usage.server_tool_use</c> (web searches, web fetches) at the price book's
/// per-use prices (its <c>serverTools</c>), which no token modifier changes.
/// </param>
public readonly record struct CostBreakdown(
    decimal Input,
    decimal Output,
    decimal CacheWrite5m,
    decimal CacheWrite1h,
    decimal CacheRead,
    decimal ServerTools = 0m)
{
    /// <summary>The sum of every component.</summary>
    public decimal Total => Input + Output + CacheWrite5m + CacheWrite1h + CacheRead + ServerTools;

    /// <summary>A breakdown with every component zero (a call that consumed no tokens, e.g. a refused request).</summary>
    public static CostBreakdown Zero => default;

    /// <summary>Adds two breakdowns component by component.</summary>
    public static CostBreakdown operator +(CostBreakdown left, CostBreakdown right) => new(
        left.Input + right.Input,
        left.Output + right.Output,
        left.CacheWrite5m + right.CacheWrite5m,
        left.CacheWrite1h + right.CacheWrite1h,
        left.CacheRead + right.CacheRead,
        left.ServerTools + right.ServerTools);

    /// <summary>Adds two breakdowns component by component.</summary>
    public static CostBreakdown Add(CostBreakdown left, CostBreakdown right) => left + right;
}
