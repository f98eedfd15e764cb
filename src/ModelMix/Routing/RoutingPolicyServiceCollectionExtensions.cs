using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers routing policies by name: each becomes an alias of <see cref="RoutingAliases"/>, which both doors serve
/// (a model name a caller sends through the proxy, or <c>ChatOptions.ModelId</c> through <c>UseModelMixRouting</c>).
/// A new policy is one class plus one registration.
/// </summary>
public static class RoutingPolicyServiceCollectionExtensions
{
    /// <summary>Registers <typeparamref name="TPolicy"/> (built from the services, once, at start) as the alias <paramref name="name"/>.</summary>
    /// <typeparam name="TPolicy">The policy; its constructor's parameters are resolved from the services.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="name">The alias (matched in any casing); a name registered before is replaced.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddRoutingPolicy<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TPolicy>(this IServiceCollection services, string name)
        where TPolicy : class, IRoutingPolicy =>
        services.AddRoutingPolicy(name, provider => ActivatorUtilities.CreateInstance<TPolicy>(provider));

    /// <summary>Registers the policy <paramref name="create"/> builds (once, at start) as the alias <paramref name="name"/>.</summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The alias (matched in any casing); a name registered before is replaced.</param>
    /// <param name="create">Builds the policy; null leaves the alias out.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddRoutingPolicy(this IServiceCollection services, string name, Func<IServiceProvider, IRoutingPolicy?> create)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.AddRoutingPolicy(new RoutingPolicyRegistration(name, create));
    }

    /// <summary>Adds <paramref name="registration"/> and, once, the alias map built from every registration.</summary>
    internal static IServiceCollection AddRoutingPolicy(this IServiceCollection services, RoutingPolicyRegistration registration)
    {
        services.AddSingleton(registration);
        services.TryAddSingleton(provider => new RoutingAliases(
            provider.GetServices<RoutingPolicyRegistration>(),
            provider,
            provider.GetService<PriceBook>() ?? PriceBook.Default));
        return services;
    }
}
