namespace ModelMix.Routing;

/// <summary>
/// Chains policies (pin → rules → learned / meta → default): the first decisive answer wins, and its
/// <see cref="RoutingDecision.Policy"/> names the policy that gave it. Synchronous members are asked through their
/// allocation-free fast path; the chain only goes asynchronous when a member really is.
/// </summary>
public sealed class CompositePolicy : ISynchronousRoutingPolicy
{
    /// <summary>The name a composite policy has unless given another.</summary>
    public const string DefaultName = "composite";

    private readonly IRoutingPolicy[] _policies;
    private readonly ISynchronousRoutingPolicy?[] _synchronous;

    /// <summary>Creates a chain; policies are asked in order.</summary>
    /// <param name="policies">The policies, most specific first.</param>
    /// <param name="name">The composite's own name.</param>
    public CompositePolicy(IEnumerable<IRoutingPolicy> policies, string name = DefaultName)
    {
        ArgumentNullException.ThrowIfNull(policies);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _policies = [.. policies];
        if (_policies.Length == 0)
        {
            throw new ArgumentException("A composite policy needs at least one policy.", nameof(policies));
        }

        foreach (var policy in _policies)
        {
            ArgumentNullException.ThrowIfNull(policy, nameof(policies));
        }

        _synchronous = [.. _policies.Select(p => p as ISynchronousRoutingPolicy)];
        IsSynchronous = _synchronous.All(p => p is not null);
        Name = name;
    }

    /// <summary>Creates a chain from the given policies, in order.</summary>
    /// <param name="policies">The policies, most specific first.</param>
    public CompositePolicy(params IRoutingPolicy[] policies)
        : this((IEnumerable<IRoutingPolicy>)policies)
    {
    }

    /// <summary>The composite's own name (decisions carry the name of the member that decided).</summary>
    public string Name { get; }

    /// <summary>The chained policies, in the order they are asked.</summary>
    public IReadOnlyList<IRoutingPolicy> Policies => _policies;

    /// <summary>Whether every member is synchronous, so that <see cref="TryDecide"/> may be used.</summary>
    public bool IsSynchronous { get; }

    /// <summary>
    /// Asks the synchronous members in order. Throws when the chain reaches an asynchronous member before any
    /// decision: check <see cref="IsSynchronous"/>, or use <see cref="DecideAsync"/>.
    /// </summary>
    /// <param name="request">The request's routing features.</param>
    /// <param name="decision">The first decisive member's decision.</param>
    /// <exception cref="InvalidOperationException">An asynchronous member would have to be asked.</exception>
    public bool TryDecide(in RoutingRequest request, out RoutingDecision decision)
    {
        for (var i = 0; i < _synchronous.Length; i++)
        {
            var sync = _synchronous[i];
            if (sync is null)
            {
                throw new InvalidOperationException(
                    $"Policy '{_policies[i].Name}' in composite '{Name}' is asynchronous; use DecideAsync.");
            }

            if (sync.TryDecide(request, out decision))
            {
                return true;
            }
        }

        decision = default;
        return false;
    }

    /// <inheritdoc />
    public ValueTask<RoutingDecision?> DecideAsync(RoutingRequest request, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        for (var i = 0; i < _policies.Length; i++)
        {
            if (_synchronous[i] is { } sync)
            {
                if (sync.TryDecide(request, out var decision))
                {
                    return new(decision);
                }

                continue;
            }

            var pending = _policies[i].DecideAsync(request, cancellationToken);
            if (!pending.IsCompletedSuccessfully)
            {
                return ContinueAsync(pending, i, request, cancellationToken);
            }

            if (pending.Result is { } result)
            {
                return new(result);
            }
        }

        return new((RoutingDecision?)null);
    }

    private async ValueTask<RoutingDecision?> ContinueAsync(
        ValueTask<RoutingDecision?> pending, int index, RoutingRequest request, CancellationToken cancellationToken)
    {
        if (await pending is { } first)
        {
            return first;
        }

        for (var i = index + 1; i < _policies.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_synchronous[i] is { } sync)
            {
                if (sync.TryDecide(request, out var decision))
                {
                    return decision;
                }

                continue;
            }

            if (await _policies[i].DecideAsync(request, cancellationToken) is { } result)
            {
                return result;
            }
        }

        return null;
    }
}
