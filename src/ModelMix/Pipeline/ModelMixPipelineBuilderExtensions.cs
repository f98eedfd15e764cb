using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Pipeline;

/// <summary>
/// Adds the routing stage (<see cref="ModelRoutingChatClient"/>) and the fallback stage (<see cref="FallbackChatClient"/>)
/// to a <see cref="ChatClientBuilder"/>. Compose outermost first: routing, fallback, then the ledger.
/// </summary>
public static class ModelMixPipelineBuilderExtensions
{
    /// <summary>Routes every call with <paramref name="policy"/>: the chosen model and the reason go into the call's options.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="policy">Decides where each call goes.</param>
    /// <param name="configure">Changes the stage's options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static ChatClientBuilder UseModelRouting(this ChatClientBuilder builder, IRoutingPolicy policy, Action<ModelRoutingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(policy);
        return builder.Use((inner, services) => CreateRouting(inner, services, policy, configure));
    }

    /// <summary>
    /// Routes every call with the policy from the builder's services: a registered <see cref="IRoutingPolicy"/>, else the
    /// static chain (pins → rules → default) built from the <c>ModelMix:Routing</c> section of a registered
    /// <see cref="IConfiguration"/> (the default rules when there is none), resolved with the registered
    /// <see cref="PriceBook"/> (else <see cref="PriceBook.Default"/>).
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the stage's options.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="RoutingConfigurationException">When the client is built: the routing configuration is invalid (the message names the key).</exception>
    public static ChatClientBuilder UseModelRouting(this ChatClientBuilder builder, Action<ModelRoutingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) => CreateRouting(inner, services, policy: null, configure));
    }

    /// <summary>
    /// Retries transient failures and falls back along a chain of models (see <see cref="FallbackChatClient"/>). Options
    /// start from the <c>ModelMix:Fallback</c> section of a registered <see cref="IConfiguration"/>, when there is one,
    /// then <paramref name="configure"/> changes them; the registered <see cref="TimeProvider"/> and
    /// <see cref="PriceBook"/> are used unless the options name others.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the stage's options, e.g. <c>o => o.Chain = ["opus", "sonnet", "haiku"]</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="ArgumentException">When the client is built: a chain entry is neither a tier nor a known model, or a value is out of range.</exception>
    public static ChatClientBuilder UseModelMixFallback(this ChatClientBuilder builder, Action<FallbackOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            var options = new FallbackOptions();
            if (services.GetService<IConfiguration>()?.GetSection(FallbackOptions.SectionName) is { } section && section.Exists())
            {
                section.Bind(options);
            }

            configure?.Invoke(options);
            options.TimeProvider ??= services.GetService<TimeProvider>();
            options.PriceBook ??= services.GetService<PriceBook>();
            var logger = services.GetService<ILoggerFactory>()?.CreateLogger<FallbackChatClient>();
            return new FallbackChatClient(inner, options, logger);
        });
    }

    private static ModelRoutingChatClient CreateRouting(IChatClient inner, IServiceProvider services, IRoutingPolicy? policy, Action<ModelRoutingOptions>? configure)
    {
        policy ??= services.GetService<IRoutingPolicy>() ?? CreatePolicy(services);
        var options = new ModelRoutingOptions();
        configure?.Invoke(options);
        options.TimeProvider ??= services.GetService<TimeProvider>();
        options.PriceBook ??= services.GetService<PriceBook>();
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger<ModelRoutingChatClient>();
        return new ModelRoutingChatClient(inner, policy, options, logger);
    }

    private static CompositePolicy CreatePolicy(IServiceProvider services)
    {
        var priceBook = services.GetService<PriceBook>() ?? PriceBook.Default;
        return services.GetService<IConfiguration>() is { } configuration
            ? RoutingConfiguration.CreatePolicy(configuration.GetSection(RoutingOptions.SectionName), priceBook)
            : RoutingConfiguration.CreatePolicy(new RoutingOptions(), priceBook);
    }
}
