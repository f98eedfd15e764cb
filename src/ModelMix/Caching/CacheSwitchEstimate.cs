namespace ModelMix.Caching;

/// <summary>
/// The price-book estimate behind a cache-aware routing decision: what the next call costs on the model whose cache
/// is warm (the prefix read at the cache-read rate) and on the model the policy chose (the prefix written again).
/// </summary>
/// <param name="WarmModel">The model the session's prefix is cached on.</param>
/// <param name="ChosenModel">The model the routing policy chose.</param>
/// <param name="PrefixTokens">The cached prefix, in tokens.</param>
/// <param name="StayCost">The estimated cost of the call on <paramref name="WarmModel"/>, reading the prefix from cache.</param>
/// <param name="SwitchCost">The estimated cost on <paramref name="ChosenModel"/>, writing the prefix to its cache (or paying it as input when it is below that model's minimum).</param>
internal sealed record CacheSwitchEstimate(string WarmModel, string ChosenModel, long PrefixTokens, decimal StayCost, decimal SwitchCost)
{
    /// <summary>How much more switching costs than staying (negative when switching is cheaper).</summary>
    public decimal ExtraCostOfSwitching => SwitchCost - StayCost;
}
