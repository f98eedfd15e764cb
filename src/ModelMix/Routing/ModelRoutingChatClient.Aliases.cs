namespace ModelMix.Pipeline;

// The routing aliases at the library door: a ChatOptions.ModelId that names an alias of the registered map
// (RoutingAliases: auto-cheap, the learned alias, ModelMix:Aliases, AddRoutingPolicy) is routed by that alias's policy,
// as the proxy routes a request whose model names it.
public sealed partial class ModelRoutingChatClient
{
    private readonly Routing.RoutingAliases? _aliasPolicies;

    /// <summary>The alias map whose policies decide a call naming one of its aliases (set from the services by <c>UseModelMixRouting</c>).</summary>
    internal Routing.RoutingAliases? AliasPolicies
    {
        get => _aliasPolicies;
        init
        {
            _aliasPolicies = value;
            if (value is not null)
            {
                _aliases.UnionWith(value.Names); // an alias is routed, never sent as a model id
            }
        }
    }

    /// <summary>The policy of the alias <paramref name="requested"/> names, else (no model, <c>auto</c>, another id) the stage's.</summary>
    private (Routing.IRoutingPolicy Policy, Routing.ISynchronousRoutingPolicy? Synchronous) PolicyFor(string? requested) =>
        requested is not null && _aliasPolicies is not null
        && !string.Equals(requested, ModelRoutingOptions.AutoAlias, StringComparison.OrdinalIgnoreCase)
        && _aliasPolicies.TryGetPolicy(requested, out var policy)
            ? (policy, policy as Routing.ISynchronousRoutingPolicy)
            : (_policy, _synchronousPolicy);
}
