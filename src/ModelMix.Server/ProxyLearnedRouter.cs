using Microsoft.Extensions.Configuration;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The <c>learned</c> routing alias: when <c>ModelMix:LearnedRouter:Path</c> names a router file (from
/// <c>modelmix train</c> and <c>calibrate</c>), requests for the alias (<c>auto-learned</c> unless
/// <c>ModelMix:LearnedRouter:Alias</c> says otherwise) go through the pins, then the learned router, which maps its
/// cheap / mid / top tiers to <c>Cheap</c> / <c>Mid</c> / <c>Top</c> (haiku / sonnet / opus by default). Loaded at
/// start-up: a missing or invalid file fails the start with a message naming the key.
/// </summary>
internal static class ProxyLearnedRouter
{
    /// <summary>The configuration section.</summary>
    public const string Section = "ModelMix:LearnedRouter";

    /// <summary>The alias served unless configured otherwise.</summary>
    public const string DefaultAlias = "auto-learned";

    /// <summary>Adds the learned alias to <paramref name="aliases"/> when a router file is configured.</summary>
    public static void AddTo(IDictionary<string, IRoutingPolicy> aliases, IConfiguration configuration, PriceBook prices)
    {
        var section = configuration.GetSection(Section);
        if (section["Path"] is not { Length: > 0 } path)
        {
            return;
        }

        LearnedRouter router;
        try
        {
            router = LearnedRouter.Load(path);
        }
        catch (RoutingConfigurationException ex)
        {
            throw new RoutingConfigurationException($"'{Section}:Path': {ex.Message}", ex);
        }

        var alias = section["Alias"] is { Length: > 0 } a ? a : DefaultAlias;
        LearnedPolicy learned;
        try
        {
            learned = new LearnedPolicy(router, prices, section["Cheap"] ?? "haiku", section["Mid"] ?? "sonnet", section["Top"] ?? "opus");
        }
        catch (RoutingConfigurationException ex)
        {
            throw new RoutingConfigurationException($"'{Section}' (Cheap / Mid / Top): {ex.Message}", ex);
        }

        var routing = RoutingConfiguration.Bind(configuration.GetSection(RoutingOptions.SectionName));
        aliases[alias] = routing.Pins is { Count: > 0 } pins
            ? new CompositePolicy([new PinnedPolicy(pins, prices), learned], alias)
            : learned;
    }
}
