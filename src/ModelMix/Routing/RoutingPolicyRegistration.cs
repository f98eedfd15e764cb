namespace ModelMix.Routing;

/// <summary>
/// A routing policy registered by name (<c>services.AddRoutingPolicy&lt;T&gt;("name")</c>): the name is the alias a
/// caller sends as its model (<c>auto</c>, <c>auto-cheap</c>, …), the factory builds the policy once, when the alias map
/// (<see cref="RoutingAliases"/>) is built at start. A later registration of a name replaces an earlier one.
/// </summary>
public sealed class RoutingPolicyRegistration
{
    private readonly Func<IServiceProvider, IEnumerable<KeyValuePair<string, IRoutingPolicy>>> _create;
    private readonly Func<string, string> _sourceOf;

    /// <summary>Registers <paramref name="create"/> under <paramref name="name"/>.</summary>
    /// <param name="name">The alias (matched in any casing; listed as written here).</param>
    /// <param name="create">Builds the policy from the services; null leaves the alias out (e.g. a feature not configured).</param>
    public RoutingPolicyRegistration(string name, Func<IServiceProvider, IRoutingPolicy?> create)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(create);
        Name = name;
        _sourceOf = alias => "AddRoutingPolicy(\"" + alias + "\")";
        _create = services => create(services) is { } policy ? [new(name, policy)] : [];
    }

    /// <summary>A registration whose names come from configuration (<c>ModelMix:Aliases</c>, the learned alias).</summary>
    internal RoutingPolicyRegistration(Func<string, string> sourceOf, Func<IServiceProvider, IEnumerable<KeyValuePair<string, IRoutingPolicy>>> create)
    {
        _sourceOf = sourceOf;
        _create = create;
    }

    /// <summary>The alias, or null for a registration whose aliases come from configuration.</summary>
    public string? Name { get; }

    /// <summary>Where an alias of this registration came from, for error messages (a configuration key, or the call).</summary>
    internal string SourceOf(string alias) => _sourceOf(alias);

    /// <summary>Builds the policies (at start).</summary>
    internal IEnumerable<KeyValuePair<string, IRoutingPolicy>> Create(IServiceProvider services) => _create(services);
}
