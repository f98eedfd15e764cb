using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The <c>learned</c> routing alias: when <c>ModelMix:LearnedRouter:Path</c> names a router file (from
/// <c>modelmix train</c> and <c>calibrate</c>), requests for the alias (<c>auto-learned</c> unless
/// <c>ModelMix:LearnedRouter:Alias</c> says otherwise) go through the pins, then the learned router, which maps its
/// cheap / mid / top tiers to <c>Cheap</c> / <c>Mid</c> / <c>Top</c> (haiku / sonnet / opus by default). Loaded at
/// start-up: a missing or invalid file fails the start with a message naming the key, and so does a router whose
/// in-domain evidence does not beat random routing (<see cref="LearnedRouterGuard"/>) unless
/// <c>ModelMix:LearnedRouter:Force</c> is true, which the start log says.
/// </summary>
internal static partial class ProxyLearnedRouter
{
    [LoggerMessage(90, LogLevel.Information, "'{Alias}' serves the learned router {Path}: {Reason}.")]
    public static partial void Served(ILogger logger, string alias, string path, string reason);

    [LoggerMessage(91, LogLevel.Warning, "'{Alias}' serves the learned router {Path} only because ModelMix:LearnedRouter:Force is true: {Reason}.")]
    public static partial void Forced(ILogger logger, string alias, string path, string reason);

    /// <summary>The configuration section.</summary>
    public const string Section = "ModelMix:LearnedRouter";

    /// <summary>The alias served unless configured otherwise.</summary>
    public const string DefaultAlias = "auto-learned";

    /// <summary>
    /// Adds the learned alias to <paramref name="aliases"/> when a router file is configured; returns what the start
    /// log must say about it (the guard's verdict, and whether it was forced), or null without a router.
    /// </summary>
    /// <exception cref="RoutingConfigurationException">The file is invalid, or its evidence does not earn it traffic and it is not forced.</exception>
    public static ProxyLearnedRouterStatus? AddTo(IDictionary<string, IRoutingPolicy> aliases, IConfiguration configuration, PriceBook prices)
    {
        var section = configuration.GetSection(Section);
        if (section["Path"] is not { Length: > 0 } path)
        {
            return null;
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
        var force = section["Force"] is { Length: > 0 } forced
            ? bool.TryParse(forced, out var value) ? value : throw new RoutingConfigurationException($"'{Section}:Force': '{forced}' is not true or false.")
            : false;
        var (allowed, reason) = LearnedRouterGuard.Check(router);
        if (!allowed && !force)
        {
            throw new RoutingConfigurationException(
                $"'{Section}:Path': the proxy does not serve '{alias}' from {path}: {reason}. Set '{Section}:Force' to true to serve it anyway.");
        }

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
        return new ProxyLearnedRouterStatus(alias, path, !allowed, reason);
    }
}
