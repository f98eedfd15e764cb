using System.Collections.Frozen;
using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>
/// Task label → model pins: latency-critical or must-be-perfect work stays where its owner put it. A pin always
/// wins; a request without a pinned label is not decided here. Decisions are precomputed, so deciding is a
/// dictionary lookup with no allocation.
/// </summary>
public sealed class PinnedPolicy : ISynchronousRoutingPolicy
{
    /// <summary>The name a pinned policy has unless given another.</summary>
    public const string DefaultName = "pinned";

    /// <summary>The confidence of a pinned decision: the owner said so.</summary>
    public const double PinConfidence = 1.0;

    private readonly FrozenDictionary<string, RoutingDecision> _decisions;

    /// <summary>Creates a pinned policy, resolving every target through the price book.</summary>
    /// <param name="pins">Task label (case-insensitive) → tier (<c>haiku</c>, <c>sonnet</c>, <c>opus</c>) or model.</param>
    /// <param name="priceBook">Resolves tiers and aliases to canonical model ids.</param>
    /// <param name="name">The policy name recorded in decisions.</param>
    /// <exception cref="RoutingConfigurationException">A target is unknown or a label is empty or duplicated; the message names the pin.</exception>
    public PinnedPolicy(IEnumerable<KeyValuePair<string, string>> pins, PriceBook priceBook, string name = DefaultName)
    {
        ArgumentNullException.ThrowIfNull(pins);
        ArgumentNullException.ThrowIfNull(priceBook);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var list = pins.ToList();
        var errors = new List<string>();
        RoutingValidation.CheckPins(list, priceBook, errors);
        if (errors.Count > 0)
        {
            throw new RoutingConfigurationException("pins", errors);
        }

        Name = name;
        _decisions = list.ToFrozenDictionary(
            p => p.Key,
            p =>
            {
                RoutingValidation.TryResolveTarget(priceBook, p.Value, out var model, out var effort);
                return new RoutingDecision(model, $"pin '{p.Key}': task label '{p.Key}' is pinned → {RoutingValidation.DescribeTarget(p.Value, model)}", PinConfidence, name) { Effort = effort };
            },
            StringComparer.OrdinalIgnoreCase);
        Pins = _decisions.ToFrozenDictionary(p => p.Key, p => p.Value.Model, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The policy name recorded in decisions.</summary>
    public string Name { get; }

    /// <summary>Task label → the canonical model id it is pinned to.</summary>
    public IReadOnlyDictionary<string, string> Pins { get; }

    /// <inheritdoc />
    public bool TryDecide(in RoutingRequest request, out RoutingDecision decision)
    {
        if (request.TaskLabel is { } label && _decisions.TryGetValue(label, out decision))
        {
            return true;
        }

        decision = default;
        return false;
    }

    /// <inheritdoc />
    public ValueTask<RoutingDecision?> DecideAsync(RoutingRequest request, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new(TryDecide(request, out var decision) ? decision : null);
    }
}
