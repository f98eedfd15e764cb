using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Routing;

namespace ModelMix.Pipeline;

/// <summary>Adds the tier-drift stage (<see cref="TierDriftChatClient"/>) to a <see cref="ChatClientBuilder"/>.</summary>
public static class TierDriftChatClientBuilderExtensions
{
    /// <summary>Reports every call's model to <paramref name="monitor"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="monitor">The monitor; subscribe to its events to be alerted.</param>
    /// <returns>The builder, for chaining.</returns>
    public static ChatClientBuilder UseModelMixTierDrift(this ChatClientBuilder builder, TierDriftMonitor monitor)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(monitor);
        return builder.Use(inner => new TierDriftChatClient(inner, monitor));
    }

    /// <summary>Reports every call's model to the <see cref="TierDriftMonitor"/> registered in the builder's services.</summary>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="InvalidOperationException">When the client is built: no <see cref="TierDriftMonitor"/> is registered.</exception>
    public static ChatClientBuilder UseModelMixTierDrift(this ChatClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) => new TierDriftChatClient(
            inner,
            services.GetService<TierDriftMonitor>() ?? throw new InvalidOperationException(
                $"UseModelMixTierDrift() needs a {nameof(TierDriftMonitor)} in the services (e.g. services.AddSingleton(new TierDriftMonitor(options))), or pass one.")));
    }

    /// <summary>Renamed <see cref="UseModelMixTierDrift(ChatClientBuilder, TierDriftMonitor)"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="monitor">The monitor.</param>
    /// <returns>The builder, for chaining.</returns>
    [Obsolete("Renamed UseModelMixTierDrift (every ModelMix stage is UseModelMix…); this alias goes in the next release.")]
    public static ChatClientBuilder UseTierDriftMonitor(this ChatClientBuilder builder, TierDriftMonitor monitor) =>
        builder.UseModelMixTierDrift(monitor);

    /// <summary>Renamed <see cref="UseModelMixTierDrift(ChatClientBuilder)"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder, for chaining.</returns>
    [Obsolete("Renamed UseModelMixTierDrift (every ModelMix stage is UseModelMix…); this alias goes in the next release.")]
    public static ChatClientBuilder UseTierDriftMonitor(this ChatClientBuilder builder) =>
        builder.UseModelMixTierDrift();
}
