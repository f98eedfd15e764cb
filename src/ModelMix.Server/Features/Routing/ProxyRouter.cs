using ModelMix.Catalog;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The model aliases the proxy routes (<c>auto</c>, <c>auto-cheap</c>, and any defined under <c>ModelMix:Aliases</c>),
/// each backed by a library routing policy. Built at start-up, so a bad routing configuration fails the start.
/// </summary>
internal sealed class ProxyRouter
{
    /// <summary>The alias routed by the <c>ModelMix:Routing</c> policy.</summary>
    public const string Auto = "auto";

    /// <summary>The same pins and rules minus their catch-all: the cheapest tier when no specific rule decides.</summary>
    public const string AutoCheap = "auto-cheap";

    /// <summary>Pins, then a cheap model classifies the request (the meta-router), then the routing default.</summary>
    public const string AutoMeta = "auto-meta";

    /// <summary>The meta-router's settings (<see cref="MetaRouterOptions"/>: ClassifierModel, Tiers, DefaultTier, …).</summary>
    public const string MetaRouterSection = "ModelMix:MetaRouter";

    /// <summary>The configuration section of extra aliases: each child is a routing section of its own.</summary>
    public const string AliasesSection = "ModelMix:Aliases";

    private readonly Dictionary<string, IRoutingPolicy> _aliases;
    private readonly HashSet<string> _aliasNames; // the same names, to give back the spelling they were defined with
    private readonly PriceBook _prices;
    private readonly Dictionary<IRoutingPolicy, ProxyRoutingCall> _routingCalls = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// Builds the aliases; <paramref name="classifier"/> (the meta-router's model client) enables <c>auto-meta</c>, and
    /// <paramref name="cascade"/> lists the confidence cascade's alias (which <see cref="ProxyCascade"/> serves).
    /// </summary>
    public ProxyRouter(IConfiguration configuration, PriceBook prices, IChatClient? classifier = null, ProxyCascadeSettings? cascade = null)
    {
        Fit = new ModelFit(prices);
        Thinking = new Caching.ThinkingAffinity(prices);
        _prices = prices;
        var routing = configuration.GetSection(RoutingOptions.SectionName);
        _aliases = new Dictionary<string, IRoutingPolicy>(StringComparer.OrdinalIgnoreCase)
        {
            [Auto] = RoutingConfiguration.CreatePolicy(routing, prices),
        };
        // auto-cheap: the same pins and rules without their catch-all, so whatever no specific rule claims goes
        // to the cheapest tier instead of the catch-all's (Sonnet in the default rules).
        var cheap = RoutingConfiguration.Bind(routing);
        cheap.Rules = (cheap.Rules ?? DefaultRules.CreateOptions()).Where(rule => !rule.HasNoConditions).ToList();
        cheap.Default = "haiku";
        _aliases[AutoCheap] = RoutingConfiguration.CreatePolicy(cheap, prices, RoutingOptions.SectionName + " (auto-cheap: default haiku)");
        if (classifier is not null)
        {
            var settings = RoutingConfiguration.Bind(routing);
            var meta = new MetaRouterOptions();
            configuration.GetSection(MetaRouterSection).Bind(meta);
            var pins = new PinnedPolicy(settings.Pins, prices);
            var metaRouter = new MetaRouterPolicy(classifier, prices, meta);
            var fallback = new DefaultPolicy(settings.Default, prices);
            var policy = new CompositePolicy([pins, metaRouter, fallback], AutoMeta);
            _aliases[AutoMeta] = policy;
            _routingCalls[policy] = new ProxyRoutingCall(metaRouter, [.. pins.Pins.Values.Concat(metaRouter.Models).Append(fallback.Model).Distinct(StringComparer.Ordinal)]);
        }

        if (cascade is not null)
        {
            // Listed like any alias (GET /v1/models, error messages). ProxyPipeline hands its requests to
            // ProxyCascade before routing, so this policy (the first tier) only describes where the cascade starts.
            _aliases[cascade.Alias] = new DefaultPolicy(cascade.Tiers[0].Model, prices, name: cascade.Options.PolicyName);
        }

        LearnedRouter = ProxyLearnedRouter.AddTo(_aliases, configuration, prices); // auto-learned: ModelMix:LearnedRouter:Path (ProxyLearnedRouter.cs)
        foreach (var alias in configuration.GetSection(AliasesSection).GetChildren())
        {
            if (prices.TryResolveId(alias.Key, out _))
            {
                throw new RoutingConfigurationException($"'{alias.Path}': the alias '{alias.Key}' is also a model id in the price book; pick another name.");
            }

            _aliases[alias.Key] = RoutingConfiguration.CreatePolicy(alias, prices);
        }

        _aliasNames = new HashSet<string>(_aliases.Keys, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The caller's model name as ModelMix spells it: names are matched in any casing, and an alias comes back as it was
    /// defined (<c>AUTO</c> → <c>auto</c>), a catalog model as the catalog writes it (<c>Claude-Haiku-4-5</c> →
    /// <c>claude-haiku-4-5</c>, <see cref="PriceBook.TryGetCatalogName"/>); any other name as it came. The very same
    /// string when the spelling is already ModelMix's, the usual case.
    /// </summary>
    public string CatalogName(string model) =>
        _aliasNames.TryGetValue(model, out var alias) ? alias
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
    public IReadOnlyCollection<string> Aliases => _aliases.Keys;

    /// <summary>The routing call an alias's policy pays for before it decides (auto-meta's classification), if any.</summary>
    public ProxyRoutingCall? RoutingCallOf(IRoutingPolicy policy) => _routingCalls.GetValueOrDefault(policy);

    /// <summary>Whether <paramref name="model"/> names an alias rather than a model.</summary>
    public bool IsAlias(string model, out IRoutingPolicy? policy) => _aliases.TryGetValue(model, out policy);

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
