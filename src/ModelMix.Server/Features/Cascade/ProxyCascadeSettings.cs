using Microsoft.Extensions.Configuration;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The proxy's confidence cascade, bound from <c>ModelMix:Cascade</c>: the alias that selects it (default
/// <c>auto-cascade</c>) and the library's <see cref="CascadeOptions"/> (Tiers, Threshold, TaskThresholds,
/// MaxEscalations, VerifierModel, …) with the tiers resolved to model ids. Loaded at start-up, so a bad setting fails
/// the start with a message naming its key.
/// </summary>
internal sealed class ProxyCascadeSettings
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix:Cascade";

    /// <summary>The alias when <c>ModelMix:Cascade:Alias</c> is not set.</summary>
    public const string DefaultAlias = "auto-cascade";

    private ProxyCascadeSettings(string alias, CascadeOptions options, IReadOnlyList<(string Name, string Model)> tiers, string verifierModel)
    {
        Alias = alias;
        Options = options;
        Tiers = tiers;
        VerifierModel = verifierModel;
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

    /// <summary>Binds and checks <c>ModelMix:Cascade</c>.</summary>
    /// <exception cref="RoutingConfigurationException">A setting is invalid; the message names every bad key.</exception>
    public static ProxyCascadeSettings Load(IConfiguration configuration, PriceBook prices)
    {
        var section = configuration.GetSection(SectionName);
        var options = new CascadeOptions
        {
            // Only the verifier keeps the client's body byte-faithful: structured output would rewrite the request.
            ConfidenceSource = CascadeConfidenceSource.Verifier,
            VerifierModel = "haiku",
            PriceBook = prices,
        };
        section.Bind(options);
        options.TaskThresholds = new Dictionary<string, double>(options.TaskThresholds, StringComparer.OrdinalIgnoreCase);

        // The binder appends configured list items to a list that already has values, so the tiers are read on their own.
        var tiers = section.GetSection("Tiers").GetChildren().Select(child => child.Value ?? string.Empty).ToList();
        options.Tiers = tiers.Count > 0 ? tiers : ["haiku", "sonnet", "opus"];

        var errors = new List<string>();
        var alias = section["Alias"] is { } configured ? configured.Trim() : DefaultAlias;
        if (alias.Length == 0)
        {
            errors.Add($"{SectionName}:Alias must not be empty.");
        }
        else if (prices.TryResolveId(alias, out _) || prices.Tiers.ContainsKey(alias))
        {
            errors.Add($"{SectionName}:Alias '{alias}' is also a model or tier in the price book; pick another name.");
        }
        else if (alias is ProxyRouter.Auto or ProxyRouter.AutoCheap or ProxyRouter.AutoMeta
                 || configuration.GetSection(ProxyRouter.AliasesSection).GetChildren().Any(child => string.Equals(child.Key, alias, StringComparison.OrdinalIgnoreCase)))
        {
            errors.Add($"{SectionName}:Alias '{alias}' is already another routing alias; pick another name.");
        }

        if (options.ConfidenceSource != CascadeConfidenceSource.Verifier)
        {
            errors.Add($"{SectionName}:ConfidenceSource must be Verifier at the proxy: structured output would rewrite the client's request, which the proxy forwards byte for byte.");
        }

        var result = new CascadeOptionsValidator().Validate(null, options);
        if (result.Failed)
        {
            // The library names its keys "Cascade:…"; here they live under "ModelMix:".
            errors.AddRange(result.Failures.Select(failure => failure.StartsWith("Cascade:", StringComparison.Ordinal) ? "ModelMix:" + failure : failure));
        }

        if (errors.Count > 0)
        {
            throw new RoutingConfigurationException("Invalid confidence cascade settings: " + string.Join(" ", errors));
        }

        var resolved = options.Tiers.Select(tier => (tier, Resolve(prices, tier))).ToList();
        return new ProxyCascadeSettings(alias, options, resolved, Resolve(prices, options.VerifierModel!));
    }

    /// <summary>Resolves a tier (<c>haiku</c>) or model id to the price book's model id.</summary>
    private static string Resolve(PriceBook prices, string tierOrModel) =>
        prices.Tiers.TryGetValue(tierOrModel, out var tierModel) && prices.TryResolveId(tierModel, out var id) ? id
        : prices.TryResolveId(tierOrModel, out id) ? id
        : throw new RoutingConfigurationException($"'{tierOrModel}' is neither a tier nor a model in the price book.");
}
