using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>
/// The learned alias built from <see cref="LearnedRouterOptions"/> (<c>ModelMix:LearnedRouter</c>): the router file
/// loaded, its evidence checked (<see cref="LearnedRouterGuard"/>), the pins of <c>ModelMix:Routing</c> in front.
/// Built when the alias map is (at start); the proxy's start log says which router serves the alias and why.
/// </summary>
internal sealed class LearnedRouterAlias
{
    private const string Section = LearnedRouterOptions.SectionName;

    /// <summary>Loads the router when <see cref="LearnedRouterOptions.Path"/> is set.</summary>
    /// <exception cref="RoutingConfigurationException">The file is invalid, or its evidence does not earn it traffic and it is not forced.</exception>
    public LearnedRouterAlias(LearnedRouterOptions options, RoutingOptions routing, PriceBook prices)
    {
        if (options.Path is not { Length: > 0 } path)
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

        var alias = options.Alias is { Length: > 0 } a ? a : LearnedRouterOptions.DefaultAlias;
        var (allowed, reason) = LearnedRouterGuard.Check(router);
        if (!allowed && !options.Force)
        {
            throw new RoutingConfigurationException(
                $"'{Section}:Path': the proxy does not serve '{alias}' from {path}: {reason}. Set '{Section}:Force' to true to serve it anyway.");
        }

        LearnedPolicy learned;
        try
        {
            learned = new LearnedPolicy(router, prices, options.Cheap, options.Mid, options.Top);
        }
        catch (RoutingConfigurationException ex)
        {
            throw new RoutingConfigurationException($"'{Section}' (Cheap / Mid / Top): {ex.Message}", ex);
        }

        Alias = alias;
        Path = path;
        Forced = !allowed;
        Reason = reason;
        Policy = routing.Pins is { Count: > 0 } pins
            ? new CompositePolicy([new PinnedPolicy(pins, prices), learned], alias)
            : learned;
    }

    /// <summary>The alias served; null without a router file.</summary>
    public string? Alias { get; }

    /// <summary>The router file.</summary>
    public string? Path { get; }

    /// <summary>Whether it is served only because <see cref="LearnedRouterOptions.Force"/> is true.</summary>
    public bool Forced { get; }

    /// <summary>The guard's verdict in one sentence.</summary>
    public string? Reason { get; }

    /// <summary>The policy (pins, then the learned router); null without a router file.</summary>
    public IRoutingPolicy? Policy { get; }
}
