using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The tier-drift alert of the proxy (<c>ModelMix:TierDrift</c>): when a tier's share of routed requests passes its
/// bound (e.g. <c>MaxShare:opus = 0.2</c>) over the window, a warning is logged, once per crossing. Off unless a bound
/// is configured.
/// </summary>
internal sealed class ProxyGuards
{
    /// <summary>The configuration section.</summary>
    public const string TierDriftSection = "ModelMix:TierDrift";

    public ProxyGuards(IConfiguration configuration, PriceBook prices, TimeProvider time, ILogger<TierDriftMonitor> logger)
    {
        var section = configuration.GetSection(TierDriftSection);
        var bounds = section.GetSection("MaxShare").GetChildren().ToList();
        if (bounds.Count == 0)
        {
            return;
        }

        var options = new TierDriftOptions { Prices = prices, TimeProvider = time };
        foreach (var bound in bounds)
        {
            if (!double.TryParse(bound.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var share) || share is <= 0 or > 1)
            {
                throw new InvalidOperationException($"{bound.Path} must be a share in (0, 1], got '{bound.Value}'.");
            }

            if (!prices.Tiers.Keys.Any(tier => string.Equals(tier, bound.Key, StringComparison.OrdinalIgnoreCase)))
            {
                throw new InvalidOperationException(
                    $"{bound.Path}: '{bound.Key}' is not a tier of the price book (tiers: {string.Join(", ", prices.Tiers.Keys)}).");
            }

            options.MaxShare[bound.Key] = share;
        }

        if (section["WindowCalls"] is { Length: > 0 } window)
        {
            options.WindowCalls = int.Parse(window, CultureInfo.InvariantCulture);
        }

        if (section["MinCalls"] is { Length: > 0 } minimum)
        {
            options.MinCalls = int.Parse(minimum, CultureInfo.InvariantCulture);
        }

        TierDrift = new TierDriftMonitor(options, logger);
    }

    /// <summary>The monitor, or null when no bound is configured.</summary>
    public TierDriftMonitor? TierDrift { get; }
}
