namespace ModelMix.Routing;

/// <summary>
/// A policy that decides from the request alone, without I/O (pins, rules, a default), and so offers an
/// allocation-free synchronous fast path beside <see cref="IRoutingPolicy.DecideAsync"/>.
/// </summary>
public interface ISynchronousRoutingPolicy : IRoutingPolicy
{
    /// <summary>Decides where <paramref name="request"/> goes; false when this policy is not decisive for it.</summary>
    /// <param name="request">The request's routing features.</param>
    /// <param name="decision">The decision when the method returns true.</param>
    bool TryDecide(in RoutingRequest request, out RoutingDecision decision);
}
