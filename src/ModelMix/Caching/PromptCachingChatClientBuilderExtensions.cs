using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelMix.Caching;
using ModelMix.Pricing;
using ModelMix.Telemetry;

namespace ModelMix.Pipeline;

/// <summary>Adds the prompt-caching stage (<see cref="PromptCachingChatClient"/>) to a <see cref="ChatClientBuilder"/>.</summary>
public static class PromptCachingChatClientBuilderExtensions
{
    /// <summary>
    /// Places <c>cache_control</c> breakpoints on every call's stable prefix for the call's model. Compose it below
    /// routing and fallback (so the routed model's minimum applies) and above the ledger. The registered
    /// <see cref="PriceBook"/>, <see cref="ModelMixMetrics"/> and logger factory are used when present.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the stage's options, e.g. <c>o => o.Caching.Ttl = PromptCacheTtl.OneHour</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static ChatClientBuilder UseModelMixPromptCaching(this ChatClientBuilder builder, Action<PromptCachingChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            var options = StageOptions.Create(services, configure);
            options.PriceBook ??= services.GetService<PriceBook>();
            var misses = new PromptCacheMissMonitor(
                services.GetService<ModelMixMetrics>(),
                services.GetService<ILoggerFactory>()?.CreateLogger<PromptCacheMissMonitor>());
            return new PromptCachingChatClient(inner, options, misses);
        });
    }

    /// <summary>Renamed <see cref="UseModelMixPromptCaching"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the stage's options.</param>
    /// <returns>The builder, for chaining.</returns>
    [Obsolete("Renamed UseModelMixPromptCaching (every ModelMix stage is UseModelMix…); this alias goes in the next release.")]
    public static ChatClientBuilder UsePromptCaching(this ChatClientBuilder builder, Action<PromptCachingChatClientOptions>? configure = null) =>
        builder.UseModelMixPromptCaching(configure);
}
