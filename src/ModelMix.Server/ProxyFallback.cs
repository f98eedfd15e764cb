using ModelMix.Catalog;
using Microsoft.Extensions.Configuration;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The proxy's fallback chain (<c>ModelMix:Fallback</c>, the same section the library's <c>UseModelMixFallback</c>
/// reads): when a model still fails after its retries (429, 529, 5xx, timeout, unreachable) the request moves to the
/// next model of <c>Chain</c> (a model not in the chain moves to its first entry; no model is tried twice); a prompt
/// too long for the model's context window moves to <c>LongContextModel</c>. Tiers and models are resolved at start.
/// The decisions are the library's <see cref="FallbackChain"/>; this class adapts the proxy's names to it.
/// </summary>
internal sealed class ProxyFallback
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix:Fallback";

    private readonly FallbackChain _chain;
    private readonly List<string> _models;

    public ProxyFallback(IConfiguration configuration, PriceBook prices, ModelFit? fit = null)
    {
        var section = configuration.GetSection(SectionName);
        var chain = section.GetSection("Chain").GetChildren().Select(entry => entry.Value ?? string.Empty).ToList();
        _chain = FallbackChain.Create(chain, section["LongContextModel"], prices, fit, SectionName, out var problems);
        if (problems.Count > 0)
        {
            throw new RoutingConfigurationException(SectionName, problems);
        }

        // The proxy sends a chain entry by its canonical id.
        _models = [.. _chain.Entries.Select(e => e.Key)];
        LongContextModel = _chain.LongContext?.Key;
    }

    /// <summary>The resolved chain, in order.</summary>
    public IReadOnlyList<string> Chain => _models;

    /// <summary>Where a prompt too long for its model goes, if anywhere.</summary>
    public string? LongContextModel { get; }

    /// <summary>
    /// The model to try after <paramref name="failed"/> failed, or null. With a budget held for the original model,
    /// only a model no dearer per token is taken, so the hold still covers the worst case.
    /// </summary>
    /// <remarks>A model that would reject <paramref name="request"/> as it is (its catalog rules, <see cref="ModelFit"/>) is passed over.</remarks>
    public string? Next(string failed, bool contextOverflow, IReadOnlySet<string> tried, bool budgetHeld, DateTimeOffset at, in RoutingRequest request)
    {
        var triedKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var model in tried)
        {
            triedKeys.Add(_chain.KeyOf(model));
        }

        var next = contextOverflow
            ? _chain.NextForLongPrompt(triedKeys, request)
            : _chain.Next(failed, triedKeys, request, budgetHeld ? failed : null, at);
        return next?.Key;
    }
}
