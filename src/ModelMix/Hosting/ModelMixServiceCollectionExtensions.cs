using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Caching;
using ModelMix.Hosting;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;
using ModelMix.Shadow;
using ModelMix.Telemetry;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers ModelMix in a service collection: options from configuration, the price book, the ledger.</summary>
public static class ModelMixServiceCollectionExtensions
{
    /// <summary>
    /// Registers ModelMix from <paramref name="configuration"/> (the root: the <c>ModelMix</c> section and its children
    /// are read):
    /// <list type="bullet">
    /// <item>every section bound to its options (<c>AddOptions&lt;T&gt;().Bind(…).ValidateOnStart()</c>): the
    /// <see cref="ModelMixOptions"/> (<c>ModelMix:Store</c>, <c>Prices</c>, <c>LedgerFlushInterval</c>),
    /// <see cref="LedgerOptions"/>, <see cref="RoutingOptions"/>, <see cref="FallbackOptions"/>,
    /// <see cref="CascadeOptions"/>, <see cref="LoopGuardOptions"/>, <see cref="CachingOptions"/> (and from it the
    /// <see cref="PromptCachingChatClientOptions"/>),
    /// <see cref="ShadowOptions"/>, <see cref="TierDriftOptions"/> — so a bad value stops the host's start with a message
    /// naming its key, and <c>services.Configure&lt;T&gt;</c> changes what the stages get;</item>
    /// <item>the <see cref="PriceBook"/> (<c>ModelMix:Prices</c> over the embedded book), a <see cref="TimeProvider"/>,
    /// <see cref="ModelMixMetrics"/>, the <see cref="AttemptRecorder"/>, a <see cref="TierDriftMonitor"/>
    /// (<c>ModelMix:TierDrift</c>);</item>
    /// <item>the <see cref="ILedger"/> (and its <see cref="ILedgerStore"/>) as a hosted service that opens and migrates
    /// the store when the host starts and, at a normal stop, commits every buffered record and closes it.</item>
    /// </list>
    /// Then <c>services.AddChatClient(inner).UseModelMix()</c> adds the standard stages.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The app's configuration (appsettings.json, environment, …).</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddModelMix(this IServiceCollection services, IConfiguration configuration) =>
        services.AddModelMix(configuration, configure: null);

    /// <summary>
    /// Registers ModelMix (see <see cref="AddModelMix(IServiceCollection, IConfiguration)"/>); <paramref name="configure"/>
    /// changes the <see cref="ModelMixOptions"/> after they are bound (e.g. a store path computed at run time).
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The app's configuration.</param>
    /// <param name="configure">Changes the bound options.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddModelMix(this IServiceCollection services, IConfiguration configuration, Action<ModelMixOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (services.Any(d => d.ServiceType == typeof(ModelMixServicesMarker)))
        {
            return services;
        }

        services.AddSingleton<ModelMixServicesMarker>();
        services.TryAddSingleton(TimeProvider.System);

        var root = services.AddOptions<ModelMixOptions>().Bind(configuration.GetSection(ModelMixOptions.SectionName));
        if (configure is not null)
        {
            root.Configure(configure);
        }

        root.ValidateOnStart();
        services.AddSingleton<IValidateOptions<ModelMixOptions>>(new OptionsCheck<ModelMixOptions>(ModelMixOptionsChecks.Problems));

        ModelMixSections.Add<LedgerOptions>(services, configuration);
        services.AddSingleton<IValidateOptions<LedgerOptions>, LedgerOptionsValidator>();
        services.AddOptions<LedgerOptions>().PostConfigure<IOptions<ModelMixOptions>>((ledger, settings) =>
        {
            if (settings.Value.LedgerFlushInterval is { } interval)
            {
                ledger.FlushInterval = interval;
            }
        });

        RoutingSections.Add(services, configuration); // ModelMix:Routing, Aliases, LearnedRouter, MetaRouter and the alias map, as the proxy registers them
        RoutingSections.AddConfiguredAliases(services);

        ModelMixSections.Add<FallbackOptions>(services, configuration, (options, provider) => ModelMixOptionsChecks.Fallback(options, provider.GetRequiredService<PriceBook>()));
        ModelMixSections.Add<CascadeOptions>(services, configuration, (options, provider) => ModelMixOptionsChecks.Cascade(options, provider.GetRequiredService<PriceBook>()));
        ModelMixSections.Add<LoopGuardOptions>(services, configuration);
        services.AddSingleton<IValidateOptions<LoopGuardOptions>, LoopGuardOptionsValidator>();
        ModelMixSections.AddCaching(services, configuration); // ModelMix:Caching, the same class and check as the proxy's
        services.AddOptions<PromptCachingChatClientOptions>()
            .Configure<IOptions<CachingOptions>>((options, caching) => ModelMixSections.ApplyCaching(caching.Value, options)); // checked at start as CachingOptions
        ModelMixSections.Add<TierDriftOptions>(services, configuration);
        services.AddSingleton<IValidateOptions<TierDriftOptions>>(provider => new TierDriftOptionsValidator(provider.GetRequiredService<PriceBook>()));
        services.AddSingleton<IValidateOptions<TwoPassAgentOptions>, TwoPassAgentOptionsValidator>(); // for TwoPassAgentOptions an app binds itself
        var shadowConfigured = configuration.GetSection(ModelMixSections.Shadow).Exists();
        ModelMixSections.Add<ShadowOptions>(services, configuration, (options, provider) => shadowConfigured ? options.Validate(provider.GetRequiredService<PriceBook>(), ModelMixSections.Shadow + ":") : []); // the candidate and judge resolve, as at the proxy
        services.AddOptions<ModelRoutingOptions>();
        services.AddOptions<LedgerChatClientOptions>();
        services.AddOptions<BatchingChatClientOptions>();

        services.TryAddSingleton(provider =>
        {
            var settings = provider.GetRequiredService<IOptions<ModelMixOptions>>().Value;
            return settings.Prices is { Length: > 0 } path ? PriceBook.Load(path) : PriceBook.Default;
        });
        // The stages' options name the registered price book unless they name another.
        services.AddOptions<CascadeOptions>().PostConfigure<PriceBook>((options, prices) => options.PriceBook ??= prices);
        services.AddOptions<FallbackOptions>().PostConfigure<PriceBook>((options, prices) => options.PriceBook ??= prices);
        services.AddOptions<TierDriftOptions>().PostConfigure<PriceBook, TimeProvider>((options, prices, time) =>
        {
            options.Prices ??= prices;
            options.TimeProvider ??= time;
        });
        services.TryAddSingleton(provider => new TierDriftMonitor(
            provider.GetRequiredService<IOptions<TierDriftOptions>>().Value,
            provider.GetService<ILogger<TierDriftMonitor>>()));

        services.TryAddSingleton(provider => new ModelMixMetrics(provider.GetService<IMeterFactory>(), provider.GetRequiredService<PriceBook>()));
        services.TryAddSingleton(provider => new HostedLedger(
            provider.GetRequiredService<IOptions<ModelMixOptions>>(),
            provider.GetRequiredService<IOptions<LedgerOptions>>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetService<ILoggerFactory>()));
        services.TryAddSingleton<ILedger>(provider => provider.GetRequiredService<HostedLedger>());
        services.AddSingleton<IHostedService>(provider => provider.GetRequiredService<HostedLedger>());
        services.TryAddSingleton(provider => provider.GetRequiredService<ILedger>().Store);
        services.TryAddSingleton(provider => new AttemptRecorder(
            provider.GetRequiredService<PriceBook>(),
            provider.GetRequiredService<ILedger>(),
            provider.GetRequiredService<ModelMixMetrics>()));
        services.AddModelMixLedgerRetention(configuration); // ModelMix:Ledger:Retention (off by default), as in modelmix serve
        return services;
    }
}
