using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ModelMix.Caching;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Routing;
using ModelMix.Shadow;

namespace ModelMix.Hosting;

/// <summary>
/// Which <c>ModelMix:*</c> section each stage's options come from, and how it binds: one place, so the library and the
/// proxy read a key alike (docs/configuration.md).
/// </summary>
internal static class ModelMixSections
{
    public const string LoopGuard = "ModelMix:LoopGuard";
    public const string Cascade = "ModelMix:Cascade";
    public const string Shadow = "ModelMix:Shadow";
    public const string TierDrift = "ModelMix:TierDrift";

    private static readonly Dictionary<Type, Action<IConfiguration, object>> s_binders = new()
    {
        [typeof(FallbackOptions)] = (c, o) => BindFallback(c.GetSection(FallbackOptions.SectionName), (FallbackOptions)o),
        [typeof(CascadeOptions)] = (c, o) => BindCascade(c.GetSection(Cascade), (CascadeOptions)o),
        [typeof(LoopGuardOptions)] = (c, o) => BindLoopGuard(c.GetSection(LoopGuard), (LoopGuardOptions)o),
        [typeof(PromptCachingChatClientOptions)] = (c, o) => BindCaching(c.GetSection(CachingOptions.SectionName), (PromptCachingChatClientOptions)o),
        [typeof(CachingOptions)] = (c, o) => BindIfPresent(c.GetSection(CachingOptions.SectionName), (CachingOptions)o),
        [typeof(ShadowOptions)] = (c, o) => BindIfPresent(c.GetSection(Shadow), (ShadowOptions)o),
        [typeof(TierDriftOptions)] = (c, o) => BindTierDrift(c.GetSection(TierDrift), (TierDriftOptions)o),
        [typeof(LedgerOptions)] = (c, o) => BindIfPresent(c.GetSection(LedgerOptions.SectionName), (LedgerOptions)o),
    };

    /// <summary>
    /// Binds <paramref name="options"/> from its section of <paramref name="configuration"/>, if it has one; an options
    /// class whose section turns a stage on (loop guard, tier drift, caching, shadow) is marked <c>Configured</c> when the
    /// section is present, so whether the stage runs is decided from the bound options, not by reading the configuration.
    /// </summary>
    public static void Bind<T>(IConfiguration configuration, T options)
        where T : class
    {
        if (s_binders.TryGetValue(typeof(T), out var bind))
        {
            bind(configuration, options);
        }
    }

    /// <summary>Registers <typeparamref name="T"/> bound from its section, validated at start by <paramref name="problems"/>.</summary>
    public static void Add<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] T>(IServiceCollection services, IConfiguration configuration, Func<T, IServiceProvider, IEnumerable<string>>? problems = null)
        where T : class
    {
        services.AddOptions<T>().Configure(options => Bind(configuration, options)).ValidateOnStart();
        if (problems is not null)
        {
            services.AddSingleton<IValidateOptions<T>>(provider => new OptionsCheck<T>(options => problems(options, provider)));
        }
    }

    // One overload per options type: the configuration binding source generator binds a statically known type only.
    private static void BindIfPresent(IConfigurationSection section, ShadowOptions options)
    {
        if (section.Exists())
        {
            ShadowShape.Bind(section, options);
            options.Configured = true;
        }
    }

    private static void BindIfPresent(IConfigurationSection section, CachingOptions options)
    {
        if (section.Exists())
        {
            section.Bind(options);
            options.Configured = true;
        }
    }

    private static void BindIfPresent(IConfigurationSection section, LedgerOptions options)
    {
        if (section.Exists())
        {
            section.Bind(options);
        }
    }

    /// <summary><see cref="TierDriftOptions"/>; a bound that is not a number stops the start naming its key (the binder skips a dictionary value it cannot convert).</summary>
    private static void BindTierDrift(IConfigurationSection section, TierDriftOptions options)
    {
        if (!section.Exists())
        {
            return;
        }

        foreach (var bound in section.GetSection(nameof(TierDriftOptions.MaxShare)).GetChildren())
        {
            if (!double.TryParse(bound.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            {
                throw new InvalidOperationException($"{bound.Path} must be a share in (0, 1], got '{bound.Value}'.");
            }
        }

        TierDriftShape.Bind(section, options);
        options.Configured = true;
    }

    private static void BindFallback(IConfigurationSection section, FallbackOptions options)
    {
        if (!section.Exists())
        {
            return;
        }

        FallbackShape.Bind(section, options); // a configured chain replaces the one set in code
    }

    private static void BindCascade(IConfigurationSection section, CascadeOptions options)
    {
        if (!section.Exists())
        {
            return;
        }

        CascadeShape.Bind(section, options); // configured tiers replace haiku, sonnet, opus
        options.TaskThresholds = new Dictionary<string, double>(options.TaskThresholds, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// <see cref="LoopGuardOptions"/> from <c>ModelMix:LoopGuard</c>, the same keys on both doors. The proxy's old key
    /// <c>MaxSpendPerMinuteUsd</c> is accepted for one release (<see cref="LoopGuardOptions.ObsoleteKeys"/>, warned at
    /// start): it sets <c>MaxSpendPerWindow</c> with a one-minute <c>SpendWindow</c> unless <c>MaxSpendPerWindow</c> is set too.
    /// </summary>
    private static void BindLoopGuard(IConfigurationSection section, LoopGuardOptions options)
    {
        if (!section.Exists())
        {
            return;
        }

        LoopGuardShape.Bind(section, options);
        options.Configured = true;
        if (section[LoopGuardOptions.ObsoleteSpendPerMinuteKey] is { Length: > 0 } perMinute)
        {
            options.ObsoleteKeys.Add(LoopGuardOptions.ObsoleteSpendPerMinuteKey);
            if (section[nameof(LoopGuardOptions.MaxSpendPerWindow)] is not { Length: > 0 })
            {
                if (!decimal.TryParse(perMinute, NumberStyles.Number, CultureInfo.InvariantCulture, out var value))
                {
                    throw new InvalidOperationException($"{section.Path}:{LoopGuardOptions.ObsoleteSpendPerMinuteKey} is '{perMinute}', which is not a valid amount.");
                }

                options.MaxSpendPerWindow = value;
                options.SpendWindow = TimeSpan.FromMinutes(1);
            }
        }
    }

    /// <summary>
    /// Registers <see cref="CachingOptions"/> bound from <c>ModelMix:Caching</c> and checked at start by
    /// <see cref="CachingOptionsValidator"/>: the section's one registration, made by <c>AddModelMix</c> and by the proxy.
    /// </summary>
    public static OptionsBuilder<CachingOptions> AddCaching(IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CachingOptions>, CachingOptionsValidator>());
        return services.AddOptions<CachingOptions>().Configure(options => Bind(configuration, options)).ValidateOnStart();
    }

    /// <summary>
    /// The prompt-caching stage's planner options from <see cref="CachingOptions"/> (the section's one options class);
    /// a bad value throws the validator's messages, the same on both doors.
    /// </summary>
    public static void ApplyCaching(CachingOptions caching, PromptCachingChatClientOptions options)
    {
        var problems = CachingOptionsValidator.Problems(caching);
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(nameof(CachingOptions), typeof(CachingOptions), problems);
        }

        options.Caching = caching.ToPlannerOptions(caching.ParsedTtl!.Value);
    }

    /// <summary>The stage's options from <c>ModelMix:Caching</c> when no <c>AddModelMix</c> bound them: read as <see cref="CachingOptions"/>.</summary>
    private static void BindCaching(IConfigurationSection section, PromptCachingChatClientOptions options)
    {
        if (!section.Exists())
        {
            return;
        }

        var caching = new CachingOptions();
        BindIfPresent(section, caching);
        ApplyCaching(caching, options);
    }
}
