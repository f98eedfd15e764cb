using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Catalog;
using ModelMix.Hosting;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The proxy's fallback chain (<c>ModelMix:Fallback</c>, the same section and keys as the library's
/// <c>UseModelMixFallback</c>): a model is retried <c>MaxRetriesPerModel</c> times; when it still fails (429, 529, 5xx,
/// timeout, unreachable) the request moves to the next model of <c>Chain</c> (a model not in the chain moves to its
/// first entry; no model is tried twice); a prompt too long for the model's context window moves to
/// <c>LongContextModel</c>. Tiers and models are resolved at start. The decisions are the library's
/// <see cref="FallbackChain"/>; this class adapts the proxy's names to it.
/// </summary>
internal sealed class ProxyFallback
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = FallbackOptions.SectionName;

    /// <summary>The proxy's old name of <c>ModelMix:Fallback:MaxRetriesPerModel</c>, accepted for one release.</summary>
    internal const string ObsoleteMaxRetriesKey = "ModelMix:MaxRetries";

    private readonly FallbackChain _chain;
    private readonly List<string> _models;

    public ProxyFallback(IOptions<FallbackOptions> options, PriceBook prices, ILogger<ProxyFallback> logger, ModelFit? fit = null)
    {
        var value = options.Value;
        // Stryker disable once NullCoalescing : equivalent (docs/testing.md, proxy-retry): the proxy never sets FallbackOptions.PriceBook (a library-only option), so the book is `prices` either way; also drops `value.PriceBook` alone, which every test of the area kills (no book)
        _chain = FallbackChain.Create(value.Chain, value.LongContextModel, value.PriceBook ?? prices, fit, SectionName, out var problems);
        // Stryker disable once Block,Statement : not reachable (docs/testing.md, proxy-retry): the start's options validation (ModelMixOptionsChecks.Fallback) refuses the same chain before this runs, as An_unknown_model_in_the_chain_fails_the_start_naming_the_key shows
        if (problems.Count > 0)
        {
            throw new RoutingConfigurationException(SectionName, problems);
        }

        // The proxy sends a chain entry by its canonical id.
        _models = [.. _chain.Entries.Select(e => e.Key)];
        LongContextModel = _chain.LongContext?.Key;
        MaxRetriesPerModel = value.MaxRetriesPerModel;
        foreach (var key in value.ObsoleteKeys)
        {
            ProxyLoopGuard.ObsoleteKey(logger, SectionName, key, $"use {SectionName}:MaxRetriesPerModel");
        }
    }

    /// <summary>
    /// Registers <see cref="FallbackOptions"/> from <c>ModelMix:Fallback</c> (the library's binder and validator,
    /// checked at start) and the chain. The proxy's old <c>ModelMix:MaxRetries</c> sets <c>MaxRetriesPerModel</c> for
    /// one release when the new key is not set (warned at start either way).
    /// </summary>
    public static void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        ModelMixSections.Add<FallbackOptions>(services, configuration, (options, provider) => ModelMixOptionsChecks.Fallback(options, provider.GetRequiredService<PriceBook>()));
        services.AddOptions<ProxyRetryKeys>().Bind(configuration.GetSection(ProxyOptions.SectionName));
        services.AddOptions<FallbackOptions>().PostConfigure<IOptions<ProxyRetryKeys>, IOptions<ProxyOptions>>((options, keys, proxy) =>
        {
            if (keys.Value.ObsoleteKeySet)
            {
                options.ObsoleteKeys.Add(ObsoleteMaxRetriesKey);
                if (!keys.Value.NewKeySet)
                {
                    options.MaxRetriesPerModel = proxy.Value.MaxRetries;
                }
            }
        });
        services.AddSingleton<ProxyFallback>();
    }

    /// <summary>The resolved chain, in order.</summary>
    public IReadOnlyList<string> Chain => _models;

    /// <summary>Where a prompt too long for its model goes, if anywhere.</summary>
    public string? LongContextModel { get; }

    /// <summary>Retries on the same model before the chain moves on (<c>ModelMix:Fallback:MaxRetriesPerModel</c>, 2 unless set).</summary>
    public int MaxRetriesPerModel { get; }

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
