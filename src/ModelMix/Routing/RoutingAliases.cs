using System.Diagnostics.CodeAnalysis;
using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>
/// The routing aliases both doors serve, by name: each a model name a caller may send (<c>auto</c>, <c>auto-cheap</c>,
/// the learned alias, every <c>ModelMix:Aliases</c> child, and any <c>services.AddRoutingPolicy</c>) mapped to the
/// policy that decides where its requests go. Built once from the registered <see cref="RoutingPolicyRegistration"/>s,
/// in registration order (a later registration of a name replaces the policy and keeps the first spelling), when the
/// host starts: a policy that cannot be built fails the start. The tiers (<c>haiku</c>, <c>sonnet</c>, <c>opus</c>,
/// <c>fable</c>, …) are not aliases: they are the price book's (<see cref="PriceBook.Tiers"/>).
/// </summary>
public sealed class RoutingAliases
{
    /// <summary>The alias routed by the <c>ModelMix:Routing</c> policy.</summary>
    public const string Auto = "auto";

    /// <summary>The same pins and rules minus their catch-all: the cheapest tier when no specific rule decides.</summary>
    public const string AutoCheap = "auto-cheap";

    private readonly Dictionary<string, IRoutingPolicy> _policies = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _names = new(StringComparer.OrdinalIgnoreCase); // to give back the spelling a name was defined with

    /// <summary>Builds every registered policy.</summary>
    /// <param name="registrations">The registrations, in order.</param>
    /// <param name="services">What the factories build from.</param>
    /// <param name="prices">An alias may not be a model id of the price book.</param>
    /// <exception cref="RoutingConfigurationException">A policy cannot be built, or an alias is a model id; the message names the key.</exception>
    public RoutingAliases(IEnumerable<RoutingPolicyRegistration> registrations, IServiceProvider services, PriceBook prices)
    {
        ArgumentNullException.ThrowIfNull(registrations);
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(prices);
        foreach (var registration in registrations)
        {
            foreach (var (name, policy) in registration.Create(services))
            {
                if (prices.TryResolveId(name, out _))
                {
                    throw new RoutingConfigurationException($"'{registration.SourceOf(name)}': the alias '{name}' is also a model id in the price book; pick another name.");
                }

                _policies[name] = policy;
            }
        }

        _names.UnionWith(_policies.Keys);
    }

    /// <summary>The alias names, in the order first registered, as they were written.</summary>
    public IReadOnlyCollection<string> Names => _policies.Keys;

    /// <summary>Whether <paramref name="name"/> (any casing) is an alias, and its policy.</summary>
    public bool TryGetPolicy(string name, [NotNullWhen(true)] out IRoutingPolicy? policy) => _policies.TryGetValue(name, out policy);

    /// <summary>Whether <paramref name="name"/> (any casing) is an alias, and the alias as it was defined (<c>AUTO</c> → <c>auto</c>).</summary>
    public bool TryGetName(string name, [NotNullWhen(true)] out string? defined) => _names.TryGetValue(name, out defined);

    /// <summary>The policy of <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such alias; the message lists those there are.</exception>
    public IRoutingPolicy GetPolicy(string name) =>
        _policies.TryGetValue(name, out var policy)
            ? policy
            : throw new KeyNotFoundException($"'{name}' is not a routing alias (aliases: {string.Join(", ", _policies.Keys)}).");
}
