using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Server;

namespace ModelMix.AspNetCore;

/// <summary>
/// Hosts ModelMix's proxy endpoints in an ASP.NET Core app: the same code and the same <c>ModelMix:*</c> configuration
/// keys as <c>modelmix serve</c> (docs/aspnetcore.md).
/// <code>
/// builder.Services.AddModelMixProxy(builder.Configuration);
/// var app = builder.Build();
/// app.MapModelMix();
/// </code>
/// </summary>
public static class ModelMixProxyExtensions
{
    /// <summary>
    /// Registers the proxy's services, configured from <paramref name="configuration"/>'s <c>ModelMix</c> section as
    /// <c>modelmix serve</c> is (upstream, store, prices, keys, budgets, fallback, caching, batching, ...), validated when
    /// the app starts. The store's ledger is opened and migrated at start and flushed at a normal stop. The app's own
    /// Kestrel transport and hosted services are left as they are.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configuration">The app's configuration (e.g. <c>builder.Configuration</c>).</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddModelMixProxy(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        ProxyApplication.AddServices(services, configuration, hosted: true);
        return services;
    }

    /// <summary>
    /// Maps the proxy's endpoints beside the app's own: <c>POST /v1/messages</c>, <c>/v1/messages/count_tokens</c>,
    /// <c>GET /v1/models</c>, <c>POST /v1/chat/completions</c>, <c>/v1/responses</c> and the <c>/v1/modelmix/batch</c>
    /// endpoints; <c>/dashboard</c> and <c>/metrics</c> when <paramref name="configure"/> asks for them. On the app itself
    /// (<c>app.MapModelMix()</c>) or under a route prefix (<c>app.MapGroup("/llm").MapModelMix()</c> serves
    /// <c>/llm/v1/messages</c>, ...). Requests to these endpoints get the proxy's error answers (in the caller's API shape,
    /// whatever the prefix, with a request id) and its browser checks (Host, Origin, content type); the app's other
    /// endpoints are untouched.
    /// </summary>
    /// <param name="endpoints">The app (built after <see cref="AddModelMixProxy"/>) or a route group of it.</param>
    /// <param name="configure">Optional: which extra endpoints to map.</param>
    /// <returns>The group of the mapped endpoints, for the app's own conventions (e.g. <c>RequireRateLimiting</c>).</returns>
    public static RouteGroupBuilder MapModelMix(this IEndpointRouteBuilder endpoints, Action<ModelMixEndpointOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var options = new ModelMixEndpointOptions();
        configure?.Invoke(options);
        var group = ProxyEndpoints.Map(endpoints, options.Dashboard, options.Metrics);
        ProxyEndpointConventions.GuardEach(group, endpoints.ServiceProvider);
        return group;
    }
}

/// <summary>Which of the proxy's optional endpoints <see cref="ModelMixProxyExtensions.MapModelMix"/> maps.</summary>
public sealed class ModelMixEndpointOptions
{
    /// <summary>Maps <c>GET /dashboard</c> (an admin key is needed once virtual keys exist). Default: off.</summary>
    public bool Dashboard { get; set; }

    /// <summary>Maps <c>GET /metrics</c> (Prometheus text; an admin key is needed once keys exist unless <c>ModelMix:MetricsRequireAdminKey</c> is off). Default: off.</summary>
    public bool Metrics { get; set; }
}
