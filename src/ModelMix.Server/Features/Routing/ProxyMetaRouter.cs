using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The <c>auto-meta</c> alias at the proxy: the pins of <c>ModelMix:Routing</c>, then a cheap model classifies the
/// request (<see cref="MetaRouterPolicy"/>, <c>ModelMix:MetaRouter</c>), then the routing default. The classifier is the
/// official SDK over the upstream, each call charged to the routed request's hold (<see cref="ProxyRoutingCall"/>).
/// </summary>
internal sealed class ProxyMetaRouter
{
    public ProxyMetaRouter(IChatClient classifier, PriceBook prices, IOptions<MetaRouterOptions> meta, IOptions<RoutingOptions> routing)
    {
        var settings = routing.Value;
        var pins = new PinnedPolicy(settings.Pins, prices);
        var metaRouter = new MetaRouterPolicy(classifier, prices, meta.Value);
        var fallback = new DefaultPolicy(settings.Default, prices);
        Policy = new CompositePolicy([pins, metaRouter, fallback], ProxyRouter.AutoMeta);
        RoutingCall = new ProxyRoutingCall(metaRouter, [.. pins.Pins.Values.Concat(metaRouter.Models).Append(fallback.Model).Distinct(StringComparer.Ordinal)]);
    }

    /// <summary>The alias's policy.</summary>
    public CompositePolicy Policy { get; }

    /// <summary>The classification the policy pays for before it decides.</summary>
    public ProxyRoutingCall RoutingCall { get; }
}
