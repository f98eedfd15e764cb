using ModelMix.Catalog;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelMix.Hosting;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The model aliases the proxy routes (<c>auto</c>, <c>auto-cheap</c>, <c>auto-meta</c>, the cascade's, the learned
/// alias, any defined under <c>ModelMix:Aliases</c>, and any <c>services.AddRoutingPolicy</c>): the library's alias map
/// (<see cref="RoutingAliases"/>), registered by name in <see cref="AddServices"/> and built at start-up, so a bad
/// routing configuration fails the start. This class adds the proxy's spelling, fit and thinking rules around it.
/// </summary>
internal sealed class ProxyRouter
{
    /// <summary>The alias routed by the <c>ModelMix:Routing</c> policy.</summary>
    public const string Auto = RoutingAliases.Auto;

    /// <summary>The same pins and rules minus their catch-all: the cheapest tier when no specific rule decides.</summary>
    public const string AutoCheap = RoutingAliases.AutoCheap;

    /// <summary>Pins, then a cheap model classifies the request (the meta-router), then the routing default.</summary>
    public const string AutoMeta = "auto-meta";

    /// <summary>The meta-router's settings (<see cref="MetaRouterOptions"/>: ClassifierModel, Tiers, DefaultTier, …).</summary>
    public const string MetaRouterSection = RoutingSections.MetaRouter;

    /// <summary>The configuration section of extra aliases: each child is a routing section of its own.</summary>
    public const string AliasesSection = RoutingAliasOptions.SectionName;

    private readonly RoutingAliases _aliases;
    private readonly PriceBook _prices;
    private readonly Dictionary<IRoutingPolicy, ProxyRoutingCall> _routingCalls = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// The router over the registered aliases; <paramref name="meta"/> is <c>auto-meta</c>'s (its classification is
    /// paid for before it decides) and <paramref name="learned"/> the learned alias's status for the start log.
    /// </summary>
    public ProxyRouter(RoutingAliases aliases, PriceBook prices, ProxyMetaRouter meta, LearnedRouterAlias learned)
    {
        Fit = new ModelFit(prices);
        Thinking = new Caching.ThinkingAffinity(prices);
        _prices = prices;
        _aliases = aliases;
        if (aliases.TryGetPolicy(AutoMeta, out var metaPolicy) && ReferenceEquals(metaPolicy, meta.Policy))
        {
            _routingCalls[metaPolicy] = meta.RoutingCall;
        }

        if (learned is { Alias: { } alias, Path: { } path, Reason: { } reason })
        {
            LearnedRouter = new ProxyLearnedRouterStatus(alias, path, learned.Forced, reason);
        }
    }

    /// <summary>
    /// Registers the routing sections and the aliases, in the order a later one replaces an earlier of the same name:
    /// <c>auto</c>, <c>auto-cheap</c> (the library's), <c>auto-meta</c> (<paramref name="classifier"/>), the cascade's
    /// alias (which <see cref="ProxyCascade"/> serves), then the learned alias and <c>ModelMix:Aliases</c>.
    /// </summary>
    public static void AddServices(IServiceCollection services, IConfiguration configuration, Func<IServiceProvider, IChatClient> classifier)
    {
        RoutingSections.Add(services, configuration); // the same sections, checks and built-in aliases as AddModelMix
        services.AddSingleton(provider => new ProxyMetaRouter(
            classifier(provider),
            provider.GetRequiredService<PriceBook>(),
            provider.GetRequiredService<IOptions<MetaRouterOptions>>(),
            provider.GetRequiredService<IOptions<RoutingOptions>>()));
        services.AddRoutingPolicy(AutoMeta, provider => provider.GetRequiredService<ProxyMetaRouter>().Policy);
        // Listed like any alias (GET /v1/models, error messages). ProxyPipeline hands its requests to ProxyCascade
        // before routing, so this policy (the first tier) only describes where the cascade starts.
        services.AddRoutingPolicy(new RoutingPolicyRegistration(
            _ => $"{ProxyCascadeSettings.SectionName}:Alias",
            provider =>
            {
                var cascade = provider.GetRequiredService<ProxyCascadeSettings>();
                return [new(cascade.Alias, new DefaultPolicy(cascade.Tiers[0].Model, provider.GetRequiredService<PriceBook>(), name: cascade.Options.PolicyName))];
            }));
        RoutingSections.AddConfiguredAliases(services); // auto-learned (ModelMix:LearnedRouter), then ModelMix:Aliases
        services.AddSingleton<ProxyRouter>();
    }

    /// <summary>
    /// The caller's model name as ModelMix spells it: names are matched in any casing, and an alias comes back as it was
    /// defined (<c>AUTO</c> → <c>auto</c>), a catalog model as the catalog writes it (<c>Claude-Haiku-4-5</c> →
    /// <c>claude-haiku-4-5</c>, <see cref="PriceBook.TryGetCatalogName"/>); any other name as it came. The very same
    /// string when the spelling is already ModelMix's, the usual case.
    /// </summary>
    public string CatalogName(string model) =>
        _aliases.TryGetName(model, out var alias) ? alias
        : _prices.TryGetCatalogName(model, out var name) ? name
        : model;

    /// <summary>
    /// A parsed request with its model in ModelMix's spelling (<see cref="CatalogName"/>), the body's <c>model</c>
    /// rewritten to match, so the upstream, the ledger, the headers and the metrics all see one name per model whatever
    /// casing the caller sent. Called where each endpoint parses its body. Unchanged (no copy) in the usual case.
    /// </summary>
    public (byte[] Body, MessagesRequest Request) WithCatalogName(byte[] body, MessagesRequest request)
    {
        var name = CatalogName(request.Model);
        return ReferenceEquals(name, request.Model) || string.Equals(name, request.Model, StringComparison.Ordinal)
            ? (body, request)
            : (RequestBodyRewriter.ReplaceModel(body, name), request with { Model = name, Features = request.Features with { RequestedModel = name } });
    }

    /// <summary>
    /// The per-model rule check every alias's decision passes through (<see cref="ModelFit"/>): a routed request only
    /// goes to a model that accepts it as it is.
    /// </summary>
    public ModelFit Fit { get; }

    /// <summary>The learned alias's router and evidence, for the start log; null without one.</summary>
    public ProxyLearnedRouterStatus? LearnedRouter { get; }

    /// <summary>
    /// Thinking-aware routing (<see cref="Caching.ThinkingAffinity"/>): keeps an alias-routed conversation that carries
    /// thinking blocks on the model that can read them, and learns from every answered attempt which model thought last.
    /// </summary>
    public Caching.ThinkingAffinity Thinking { get; }

    /// <summary>Feeds <see cref="Thinking"/> an answered attempt: a request that thinks on its model made the session's newest blocks.</summary>
    public void ObserveThinking(Ledger.LedgerRecord record, in RequestTraits traits)
    {
        if (record.Status is not (Ledger.LedgerStatus.Ok or Ledger.LedgerStatus.Unpriced) || record.SessionId is null)
        {
            return;
        }

        var model = record.ResponseModel ?? record.RoutedModel;
        Thinking.Observe(record.KeyId, record.SessionId, model, Thinking.Thinks(model, traits));
    }

    /// <summary>The alias names, for <c>GET /v1/models</c> and error messages.</summary>
    public IReadOnlyCollection<string> Aliases => _aliases.Names;

    /// <summary>The routing call an alias's policy pays for before it decides (auto-meta's classification), if any.</summary>
    public ProxyRoutingCall? RoutingCallOf(IRoutingPolicy policy) => _routingCalls.GetValueOrDefault(policy);

    /// <summary>Whether <paramref name="model"/> names an alias rather than a model.</summary>
    public bool IsAlias(string model, out IRoutingPolicy? policy) => _aliases.TryGetPolicy(model, out policy);

    /// <summary>Decides where a request for an alias goes.</summary>
    public static async ValueTask<RoutingDecision> DecideAsync(IRoutingPolicy policy, RoutingRequest request, CancellationToken cancellationToken)
    {
        // The synchronous path allocates nothing; a composite holding an asynchronous member (a meta-router) must go async.
        if (policy is ISynchronousRoutingPolicy synchronous && policy is not CompositePolicy { IsSynchronous: false } && synchronous.TryDecide(request, out var decision))
        {
            return decision;
        }

        return await policy.DecideAsync(request, cancellationToken) ?? throw new InvalidOperationException($"The routing policy '{policy.Name}' made no decision; it must end with a default.");
    }
}
