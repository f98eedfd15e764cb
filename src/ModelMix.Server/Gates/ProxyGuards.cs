using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Hosting;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The tier-drift alert of the proxy (<c>ModelMix:TierDrift</c>, the same keys as the library's): when a tier's share
/// of routed requests passes its bound (e.g. <c>MaxShare:opus = 0.2</c>) over the window, a warning is logged, once per
/// crossing. Off unless a bound is configured.
/// </summary>
internal sealed class ProxyGuards
{
    /// <summary>The configuration section.</summary>
    public const string TierDriftSection = ModelMixSections.TierDrift;

    public ProxyGuards(IOptions<TierDriftOptions> options, ILogger<TierDriftMonitor> logger)
    {
        if (options.Value.MaxShare.Count > 0)
        {
            TierDrift = new TierDriftMonitor(options.Value, logger);
        }
    }

    /// <summary>The monitor, or null when no bound is configured.</summary>
    public TierDriftMonitor? TierDrift { get; }

    /// <summary>Registers <see cref="TierDriftOptions"/> from <c>ModelMix:TierDrift</c> (the library's binder and validator, checked at start) and the guards.</summary>
    public static void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        ModelMixSections.Add<TierDriftOptions>(services, configuration);
        services.AddSingleton<IValidateOptions<TierDriftOptions>>(provider => new TierDriftOptionsValidator(provider.GetRequiredService<PriceBook>())); // the library's, as AddModelMix registers it
        services.AddOptions<TierDriftOptions>().PostConfigure<PriceBook, TimeProvider>((options, prices, time) =>
        {
            options.Prices ??= prices;
            options.TimeProvider ??= time;
        });
        services.AddSingleton<ProxyGuards>();
    }
}
