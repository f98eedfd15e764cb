using ModelMix.Catalog;
using Microsoft.Extensions.Configuration;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The proxy's fallback chain (<c>ModelMix:Fallback</c>, the same section the library's <c>UseModelMixFallback</c>
/// reads): when a model still fails after its retries (429, 529, 5xx, timeout, unreachable) the request moves to the
/// next model of <c>Chain</c> (a model not in the chain moves to its first entry; no model is tried twice); a prompt
/// too long for the model's context window moves to <c>LongContextModel</c>. Tiers and models are resolved at start.
/// </summary>
internal sealed class ProxyFallback
{
    private readonly ModelFit _fit;
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix:Fallback";

    private readonly List<string> _chain = [];
    private readonly PriceBook _prices;

    public ProxyFallback(IConfiguration configuration, PriceBook prices, ModelFit? fit = null)
    {
        _fit = fit ?? new ModelFit(prices);
        _prices = prices;
        var section = configuration.GetSection(SectionName);
        var errors = new List<string>();
        var index = 0;
        foreach (var entry in section.GetSection("Chain").GetChildren())
        {
            var name = entry.Value;
            if (string.IsNullOrWhiteSpace(name) || !TryResolve(name, out var model))
            {
                errors.Add($"'{SectionName}:Chain:{index}' is '{name}', neither a tier ({string.Join(", ", prices.Tiers.Keys)}) nor a priced model.");
            }
            else if (_chain.Contains(model))
            {
                errors.Add($"'{SectionName}:Chain:{index}' lists {model} twice.");
            }
            else
            {
                _chain.Add(model);
            }

            index++;
        }

        if (section["LongContextModel"] is { Length: > 0 } longContext)
        {
            if (TryResolve(longContext, out var model))
            {
                LongContextModel = model;
            }
            else
            {
                errors.Add($"'{SectionName}:LongContextModel' is '{longContext}', neither a tier nor a priced model.");
            }
        }

        if (errors.Count > 0)
        {
            throw new RoutingConfigurationException(SectionName, errors);
        }
    }

    /// <summary>The resolved chain, in order.</summary>
    public IReadOnlyList<string> Chain => _chain;

    /// <summary>Where a prompt too long for its model goes, if anywhere.</summary>
    public string? LongContextModel { get; }

    /// <summary>
    /// The model to try after <paramref name="failed"/> failed, or null. With a budget held for the original model,
    /// only a model no dearer per token is taken, so the hold still covers the worst case.
    /// </summary>
    /// <remarks>A model that would reject <paramref name="request"/> as it is (its catalog rules, <see cref="ModelFit"/>) is passed over.</remarks>
    public string? Next(string failed, bool contextOverflow, IReadOnlySet<string> tried, bool budgetHeld, DateTimeOffset at, in RoutingRequest request)
    {
        if (contextOverflow)
        {
            return LongContextModel is { } wide && !tried.Contains(wide) && _fit.Check(wide, request) == RuleViolation.None ? wide : null;
        }

        var position = _chain.IndexOf(CanonicalOf(failed));
        for (var i = position + 1; i < _chain.Count; i++)
        {
            var candidate = _chain[i];
            if (tried.Contains(candidate))
            {
                continue;
            }

            if (_fit.Check(candidate, request) != RuleViolation.None)
            {
                // A chain entry that would reject the request as it is stands for its fit, as a routing decision does.
                candidate = _fit.Substitute(candidate, request, tried) is { } substitute && !tried.Contains(substitute) ? substitute : null;
            }

            if (candidate is not null && (!budgetHeld || NoDearer(candidate, failed, at)))
            {
                return candidate;
            }
        }

        return null;
    }

    private string CanonicalOf(string model) => _prices.TryResolveId(model, out var id) ? id : model;

    private bool NoDearer(string candidate, string failed, DateTimeOffset at) =>
        _prices.TryGetPrice(candidate, at, out var next) && _prices.TryGetPrice(failed, at, out var current)
        && next.Input <= current.Input && next.Output <= current.Output;

    private bool TryResolve(string name, out string model)
    {
        try
        {
            model = _prices.ResolveTier(name);
            return true;
        }
        catch (PricingException)
        {
            model = string.Empty;
            return false;
        }
    }
}
