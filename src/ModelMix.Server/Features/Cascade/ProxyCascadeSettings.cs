using Microsoft.Extensions.Options;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The proxy's confidence cascade, bound from <c>ModelMix:Cascade</c>: the alias that selects it (default
/// <c>auto-cascade</c>) and the library's <see cref="CascadeOptions"/> (Tiers, Threshold, TaskThresholds,
/// MaxEscalations, VerifierModel, …) with the tiers resolved to model ids. Built from <see cref="ProxyCascadeOptions"/>,
/// which are checked at start, so a bad setting fails the start with a message naming its key.
/// </summary>
internal sealed class ProxyCascadeSettings
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix:Cascade";

    /// <summary>The alias when <c>ModelMix:Cascade:Alias</c> is not set.</summary>
    public const string DefaultAlias = "auto-cascade";

    /// <summary>The settings from the validated <see cref="ProxyCascadeOptions"/>, the tiers resolved to model ids.</summary>
    public ProxyCascadeSettings(IOptions<ProxyCascadeOptions> options, PriceBook prices)
    {
        var value = options.Value;
        Alias = value.Alias;
        Options = value.Cascade;
        Tiers = [.. Options.Tiers.Select(tier => (tier, Resolve(prices, tier)))];
        VerifierModel = Resolve(prices, Options.VerifierModel!);
    }

    /// <summary>The model name clients send to use the cascade.</summary>
    public string Alias { get; }

    /// <summary>The cascade's options (confidence source always <see cref="CascadeConfidenceSource.Verifier"/>).</summary>
    public CascadeOptions Options { get; }

    /// <summary>The tiers, cheapest first: the configured name and its model id.</summary>
    public IReadOnlyList<(string Name, string Model)> Tiers { get; }

    /// <summary>The verifier's configured name (a tier or a model).</summary>
    public string VerifierName => Options.VerifierModel!;

    /// <summary>The verifier's model id.</summary>
    public string VerifierModel { get; }

    /// <summary>How many tiers a request can reach: all of them, or fewer when <see cref="CascadeOptions.MaxEscalations"/> stops it earlier.</summary>
    public int ReachableTiers => Math.Min(Tiers.Count, Options.MaxEscalations + 1);

    /// <summary>The threshold for a request with <paramref name="taskLabel"/>.</summary>
    public double ThresholdFor(string? taskLabel) =>
        taskLabel is not null && Options.TaskThresholds.TryGetValue(taskLabel, out var threshold) ? threshold : Options.Threshold;

    /// <summary>Resolves a tier (<c>haiku</c>) or model id to the price book's model id.</summary>
    private static string Resolve(PriceBook prices, string tierOrModel) =>
        prices.Tiers.TryGetValue(tierOrModel, out var tierModel) && prices.TryResolveId(tierModel, out var id) ? id
        : prices.TryResolveId(tierOrModel, out id) ? id
        : throw new RoutingConfigurationException($"'{tierOrModel}' is neither a tier nor a model in the price book.");
}
