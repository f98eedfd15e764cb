using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>The end of a chain: always decisive, always the same model (Sonnet unless configured otherwise).</summary>
public sealed class DefaultPolicy : ISynchronousRoutingPolicy
{
    /// <summary>The name a default policy has unless given another.</summary>
    public const string DefaultName = "default";

    /// <summary>The confidence of a default decision: nothing more specific was known.</summary>
    public const double DefaultConfidence = 0.5;

    private readonly RoutingDecision _decision;

    /// <summary>Creates a default policy for a tier or model.</summary>
    /// <param name="tierOrModel">A tier (<c>haiku</c>, <c>sonnet</c>, <c>opus</c>) or a model id or alias.</param>
    /// <param name="priceBook">Resolves the target.</param>
    /// <param name="confidence">The confidence reported, 0 to 1.</param>
    /// <param name="name">The policy name recorded in decisions.</param>
    /// <exception cref="RoutingConfigurationException">The tier or model is unknown.</exception>
    public DefaultPolicy(string tierOrModel, PriceBook priceBook, double confidence = DefaultConfidence, string name = DefaultName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tierOrModel);
        ArgumentNullException.ThrowIfNull(priceBook);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(confidence, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(confidence, 1);
        if (!RoutingValidation.TryResolveTarget(priceBook, tierOrModel, out var model, out var effort))
        {
            throw new RoutingConfigurationException(
                $"Default: '{tierOrModel}' is neither a tier ({string.Join(", ", priceBook.Tiers.Keys)}) nor a model in the price book {priceBook.SourceName} (optionally with an effort, e.g. opus@low).");
        }

        Name = name;
        Model = model;
        _decision = new RoutingDecision(model, $"default: no earlier policy was decisive → {RoutingValidation.DescribeTarget(tierOrModel, model)}", confidence, name) { Effort = effort };
    }

    /// <summary>The policy name recorded in decisions.</summary>
    public string Name { get; }

    /// <summary>The canonical model id every request gets.</summary>
    public string Model { get; }

    /// <inheritdoc />
    public bool TryDecide(in RoutingRequest request, out RoutingDecision decision)
    {
        decision = _decision;
        return true;
    }

    /// <inheritdoc />
    public ValueTask<RoutingDecision?> DecideAsync(RoutingRequest request, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new(_decision);
    }
}
