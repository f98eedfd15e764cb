using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Hosting;

/// <summary>
/// The routing sections (<c>ModelMix:Routing</c>, <c>ModelMix:Aliases</c>, <c>ModelMix:LearnedRouter</c>,
/// <c>ModelMix:MetaRouter</c>) bound to their options, checked at start, and the aliases built from them registered by
/// name (<see cref="RoutingAliases"/>): one registration, made by <c>AddModelMix</c> and by the proxy.
/// </summary>
internal static class RoutingSections
{
    /// <summary>The meta-router's section (<see cref="MetaRouterOptions"/>).</summary>
    public const string MetaRouter = "ModelMix:MetaRouter";

    /// <summary>
    /// Binds the four sections (each checked at start) and registers <c>auto</c> and <c>auto-cheap</c>. A door adds its
    /// own aliases after this, then <see cref="AddConfiguredAliases"/>, so a configured alias replaces a built-in one.
    /// </summary>
    public static void Add(IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RoutingOptions>()
            .Configure(options =>
            {
                var bound = RoutingConfiguration.Bind(configuration.GetSection(RoutingOptions.SectionName));
                options.Pins = bound.Pins;
                options.Rules = bound.Rules;
                options.Default = bound.Default;
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<RoutingOptions>>(provider => new RoutingOptionsValidator(provider.GetRequiredService<PriceBook>()));

        services.AddOptions<RoutingAliasOptions>()
            .Configure(options =>
            {
                foreach (var alias in configuration.GetSection(RoutingAliasOptions.SectionName).GetChildren())
                {
                    options.Aliases[alias.Key] = RoutingConfiguration.Bind(alias);
                }
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<RoutingAliasOptions>>(provider => new OptionsCheck<RoutingAliasOptions>(
            options => AliasProblems(options, provider.GetRequiredService<PriceBook>())));

        services.AddOptions<LearnedRouterOptions>()
            .Configure(options => BindLearnedRouter(configuration.GetSection(LearnedRouterOptions.SectionName), options))
            .ValidateOnStart();
        services.AddOptions<MetaRouterOptions>().Bind(configuration.GetSection(MetaRouter));

        services.AddRoutingPolicy(RoutingAliases.Auto, provider =>
            RoutingConfiguration.CreatePolicy(provider.GetRequiredService<IOptions<RoutingOptions>>().Value, provider.GetRequiredService<PriceBook>()));
        // auto-cheap: the same pins and rules without their catch-all, so whatever no specific rule claims goes to the
        // cheapest tier instead of the catch-all's (Sonnet in the default rules).
        services.AddRoutingPolicy(RoutingAliases.AutoCheap, provider =>
        {
            var routing = provider.GetRequiredService<IOptions<RoutingOptions>>().Value;
            var cheap = new RoutingOptions
            {
                Pins = routing.Pins,
                Rules = (routing.Rules ?? DefaultRules.CreateOptions()).Where(rule => !rule.HasNoConditions).ToList(),
                Default = "haiku",
            };
            return RoutingConfiguration.CreatePolicy(cheap, provider.GetRequiredService<PriceBook>(), RoutingOptions.SectionName + " (auto-cheap: default haiku)");
        });
        services.AddSingleton(provider => new LearnedRouterAlias(
            provider.GetRequiredService<IOptions<LearnedRouterOptions>>().Value,
            provider.GetRequiredService<IOptions<RoutingOptions>>().Value,
            provider.GetRequiredService<PriceBook>()));
    }

    /// <summary>The learned alias (when a router file is configured), then every <c>ModelMix:Aliases</c> child.</summary>
    public static void AddConfiguredAliases(IServiceCollection services)
    {
        services.AddRoutingPolicy(new RoutingPolicyRegistration(
            _ => $"{LearnedRouterOptions.SectionName}:{nameof(LearnedRouterOptions.Alias)}",
            provider => provider.GetRequiredService<LearnedRouterAlias>() is { Alias: { } alias, Policy: { } policy } ? [new(alias, policy)] : []));
        services.AddRoutingPolicy(new RoutingPolicyRegistration(
            alias => $"{RoutingAliasOptions.SectionName}:{alias}",
            provider =>
            {
                var prices = provider.GetRequiredService<PriceBook>();
                return provider.GetRequiredService<IOptions<RoutingAliasOptions>>().Value.Aliases
                    .Select(alias => KeyValuePair.Create<string, IRoutingPolicy>(
                        alias.Key, RoutingConfiguration.CreatePolicy(alias.Value, prices, $"{RoutingAliasOptions.SectionName}:{alias.Key}")))
                    .ToList();
            }));
    }

    /// <summary>Each alias names no model of the price book and its pins and rules resolve (messages as the alias map's).</summary>
    private static IEnumerable<string> AliasProblems(RoutingAliasOptions options, PriceBook prices)
    {
        foreach (var (name, routing) in options.Aliases)
        {
            var source = $"{RoutingAliasOptions.SectionName}:{name}";
            if (prices.TryResolveId(name, out _))
            {
                yield return $"'{source}': the alias '{name}' is also a model id in the price book; pick another name.";
                continue;
            }

            var errors = RoutingValidation.Check(routing, prices);
            if (errors.Count > 0)
            {
                yield return new RoutingConfigurationException(source, errors).Message;
            }
        }
    }

    /// <summary><see cref="LearnedRouterOptions"/>; a <c>Force</c> that is not true or false stops the start naming its key.</summary>
    private static void BindLearnedRouter(IConfigurationSection section, LearnedRouterOptions options)
    {
        if (!section.Exists())
        {
            return;
        }

        if (section[nameof(LearnedRouterOptions.Force)] is { Length: > 0 } force && !bool.TryParse(force, out _))
        {
            throw new RoutingConfigurationException($"'{LearnedRouterOptions.SectionName}:{nameof(LearnedRouterOptions.Force)}': '{force}' is not true or false.");
        }

        section.Bind(options);
    }
}
