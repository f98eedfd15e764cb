using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Batching;
using ModelMix.Caching;
using ModelMix.Hosting;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Pipeline;

/// <summary>
/// Adds ModelMix's standard pipeline (<see cref="UseModelMix"/>), the routing stage (<see cref="ModelRoutingChatClient"/>)
/// and the fallback stage (<see cref="FallbackChatClient"/>) to a <see cref="ChatClientBuilder"/>. Every ModelMix stage
/// is named <c>UseModelMix…</c>; compose outermost first: loop guard, routing, fallback, prompt caching, batching,
/// shadow, ledger (docs/library.md, "Middleware order").
/// </summary>
public static class ModelMixPipelineBuilderExtensions
{
    /// <summary>
    /// Adds the standard stages in the standard order, each configured from the services (<c>AddModelMix</c>):
    /// loop guard (when <c>ModelMix:LoopGuard</c> is configured), routing, tier drift (when <c>ModelMix:TierDrift</c>
    /// is configured), fallback, prompt caching (when
    /// <c>ModelMix:Caching</c> is configured and not disabled), batching (when an <see cref="IBatchStore"/> is
    /// registered), shadow (when <c>ModelMix:Shadow:CandidateModel</c> is set), then the ledger.
    /// </summary>
    /// <param name="builder">The builder, over the client every model is served by (the Anthropic SDK's <c>AsIChatClient</c>).</param>
    /// <param name="configure">Turns optional stages on or off.</param>
    /// <returns>The builder, for chaining.</returns>
    public static ChatClientBuilder UseModelMix(this ChatClientBuilder builder, Action<ModelMixPipelineOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            var configuration = services.GetService<IConfiguration>();
            var stages = new ModelMixPipelineOptions
            {
                LoopGuard = configuration?.GetSection(ModelMixSections.LoopGuard).Exists() == true,
                TierDrift = configuration?.GetSection(ModelMixSections.TierDrift).Exists() == true,
                PromptCaching = configuration?.GetSection(CachingOptions.SectionName) is { } caching && caching.Exists() && caching.GetValue("Enabled", true),
                Batching = services.GetService<IBatchStore>() is not null,
                Shadow = configuration?[ModelMixSections.Shadow + ":CandidateModel"] is { Length: > 0 },
            };
            configure?.Invoke(stages);
            var pipeline = new ChatClientBuilder(inner);
            if (stages.LoopGuard)
            {
                pipeline.UseModelMixLoopGuard();
            }

            pipeline.UseModelMixRouting();
            if (stages.TierDrift)
            {
                pipeline.UseModelMixTierDrift();
            }

            pipeline.UseModelMixFallback();
            if (stages.PromptCaching)
            {
                pipeline.UseModelMixPromptCaching();
            }

            if (stages.Batching)
            {
                pipeline.UseModelMixBatching();
            }

            if (stages.Shadow)
            {
                pipeline.UseModelMixShadow();
            }

            return pipeline.UseModelMixLedger().Build(services);
        });
    }

    /// <summary>Routes every call with <paramref name="policy"/>: the chosen model and the reason go into the call's options.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="policy">Decides where each call goes.</param>
    /// <param name="configure">Changes the stage's options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static ChatClientBuilder UseModelMixRouting(this ChatClientBuilder builder, IRoutingPolicy policy, Action<ModelRoutingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(policy);
        return builder.Use((inner, services) => CreateRouting(inner, services, policy, configure));
    }

    /// <summary>
    /// Routes every call with the policy from the builder's services: a registered <see cref="IRoutingPolicy"/>, else the
    /// static chain (pins → rules → default) built from the <see cref="RoutingOptions"/> (<c>ModelMix:Routing</c>, bound
    /// and checked at start by <c>AddModelMix</c>; without it, the section of a registered <see cref="IConfiguration"/>,
    /// the default rules when there is none), resolved with the registered <see cref="PriceBook"/> (else
    /// <see cref="PriceBook.Default"/>). Options come from <see cref="IOptions{ModelRoutingOptions}"/>, then
    /// <paramref name="configure"/>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the stage's options.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="RoutingConfigurationException">When the client is built: the routing configuration is invalid (the message names the key).</exception>
    public static ChatClientBuilder UseModelMixRouting(this ChatClientBuilder builder, Action<ModelRoutingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) => CreateRouting(inner, services, policy: null, configure));
    }

    /// <summary>Renamed <see cref="UseModelMixRouting(ChatClientBuilder, IRoutingPolicy, Action{ModelRoutingOptions}?)"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="policy">Decides where each call goes.</param>
    /// <param name="configure">Changes the stage's options.</param>
    /// <returns>The builder, for chaining.</returns>
    [Obsolete("Renamed UseModelMixRouting (every ModelMix stage is UseModelMix…); this alias goes in the next release.")]
    public static ChatClientBuilder UseModelRouting(this ChatClientBuilder builder, IRoutingPolicy policy, Action<ModelRoutingOptions>? configure = null) =>
        builder.UseModelMixRouting(policy, configure);

    /// <summary>Renamed <see cref="UseModelMixRouting(ChatClientBuilder, Action{ModelRoutingOptions}?)"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the stage's options.</param>
    /// <returns>The builder, for chaining.</returns>
    [Obsolete("Renamed UseModelMixRouting (every ModelMix stage is UseModelMix…); this alias goes in the next release.")]
    public static ChatClientBuilder UseModelRouting(this ChatClientBuilder builder, Action<ModelRoutingOptions>? configure = null) =>
        builder.UseModelMixRouting(configure);

    /// <summary>
    /// Retries transient failures and falls back along a chain of models (see <see cref="FallbackChatClient"/>). Options
    /// come from <see cref="IOptions{FallbackOptions}"/> (<c>ModelMix:Fallback</c> with <c>AddModelMix</c>, or
    /// <c>services.Configure&lt;FallbackOptions&gt;</c>; without <c>AddModelMix</c>, the section of a registered
    /// <see cref="IConfiguration"/>), then <paramref name="configure"/> changes them; the registered
    /// <see cref="TimeProvider"/> and <see cref="PriceBook"/> are used unless the options name others.
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
            var options = StageOptions.Create(services, configure);
            options.TimeProvider ??= services.GetService<TimeProvider>();
            options.PriceBook ??= services.GetService<PriceBook>();
            var logger = services.GetService<ILoggerFactory>()?.CreateLogger<FallbackChatClient>();
            return new FallbackChatClient(inner, options, logger);
        });
    }

    private static ModelRoutingChatClient CreateRouting(IChatClient inner, IServiceProvider services, IRoutingPolicy? policy, Action<ModelRoutingOptions>? configure)
    {
        // The registered alias map (AddModelMix, AddRoutingPolicy): its auto serves calls that name no alias, and a call
        // naming another of its aliases is routed by that alias's policy, as at the proxy.
        var aliases = services.GetService<RoutingAliases>();
        policy ??= services.GetService<IRoutingPolicy>()
            ?? (aliases is not null && aliases.TryGetPolicy(RoutingAliases.Auto, out var auto) ? auto : CreatePolicy(services));
        var options = StageOptions.Create(services, configure);
        options.TimeProvider ??= services.GetService<TimeProvider>();
        options.PriceBook ??= services.GetService<PriceBook>();
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger<ModelRoutingChatClient>();
        return new ModelRoutingChatClient(inner, policy, options, logger) { AliasPolicies = aliases };
    }

    private static CompositePolicy CreatePolicy(IServiceProvider services)
    {
        var priceBook = services.GetService<PriceBook>() ?? PriceBook.Default;
        if (services.GetService<ModelMixServicesMarker>() is not null)
        {
            // AddModelMix bound ModelMix:Routing and checked it when the host started.
            return RoutingConfiguration.CreatePolicy(services.GetRequiredService<IOptions<RoutingOptions>>().Value, priceBook);
        }

        return services.GetService<IConfiguration>() is { } configuration
            ? RoutingConfiguration.CreatePolicy(configuration.GetSection(RoutingOptions.SectionName), priceBook)
            : RoutingConfiguration.CreatePolicy(new RoutingOptions(), priceBook);
    }
}

/// <summary>Which optional stages <see cref="ModelMixPipelineBuilderExtensions.UseModelMix"/> adds; the defaults come from the configuration.</summary>
public sealed class ModelMixPipelineOptions
{
    /// <summary>The loop guard, outermost; on when <c>ModelMix:LoopGuard</c> is configured.</summary>
    public bool LoopGuard { get; set; }

    /// <summary>The tier-drift monitor below routing (the registered <c>TierDriftMonitor</c>); on when <c>ModelMix:TierDrift</c> is configured.</summary>
    public bool TierDrift { get; set; }

    /// <summary>Prompt caching below fallback; on when <c>ModelMix:Caching</c> is configured and its <c>Enabled</c> is not false.</summary>
    public bool PromptCaching { get; set; }

    /// <summary>Batching above the ledger; on when an <see cref="IBatchStore"/> is registered.</summary>
    public bool Batching { get; set; }

    /// <summary>Shadow mode above the ledger; on when <c>ModelMix:Shadow:CandidateModel</c> is set.</summary>
    public bool Shadow { get; set; }
}
