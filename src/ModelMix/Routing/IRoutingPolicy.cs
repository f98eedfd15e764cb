namespace ModelMix.Routing;

/// <summary>
/// Chooses a model for a request, or declines. Policies are deterministic given their inputs (and seed), and chain
/// in a <see cref="CompositePolicy"/>: pin → rules → learned / meta → default.
/// </summary>
public interface IRoutingPolicy
{
    /// <summary>The policy's name, recorded in every <see cref="RoutingDecision.Policy"/> it makes.</summary>
    string Name { get; }

    /// <summary>Decides where <paramref name="request"/> goes; null when this policy is not decisive for it.</summary>
    /// <param name="request">The request's routing features.</param>
    /// <param name="cancellationToken">Cancels a policy that calls out (a meta-router, a cascade).</param>
    ValueTask<RoutingDecision?> DecideAsync(RoutingRequest request, CancellationToken cancellationToken = default);
}
