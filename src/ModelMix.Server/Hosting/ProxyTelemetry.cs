using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelMix.Pricing;
using ModelMix.Telemetry;
using OpenTelemetry.Metrics;

namespace ModelMix.Server;

/// <summary>OpenTelemetry metrics for the proxy, exported in Prometheus text at <c>GET /metrics</c>.</summary>
internal static class ProxyTelemetry
{
    public static void AddServices(IServiceCollection services)
    {
        // Model labels take the price book's spelling, so a model sent in any casing is one series (ModelMixMetrics).
        // The proxy makes the upstream calls itself, so it records the GenAI client metrics too (nothing else does).
        services.AddSingleton(provider => new ModelMixMetrics(provider.GetRequiredService<IMeterFactory>(), provider.GetRequiredService<PriceBook>(), genAiClientMetrics: true));
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(ModelMixMetrics.MeterName)
            // The runtime's own metrics (.NET 9+): CPU time, GC collections and pauses, bytes allocated, thread pool.
            .AddMeter("System.Runtime")
            .AddPrometheusExporter());
    }

    /// <summary>
    /// Maps <c>GET /metrics</c>. Once virtual keys exist it needs an admin key (<see cref="AdminGate"/>) unless
    /// <see cref="ProxyOptions.MetricsRequireAdminKey"/> is off; in open mode it is open like every endpoint.
    /// </summary>
    public static void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
        var services = endpoints.ServiceProvider;
        endpoints.MapPrometheusScrapingEndpoint("/metrics", meterProvider: null, configureBranchedPipeline: branch => branch.Use(async (context, next) =>
        {
            if (services.GetRequiredService<IOptions<ProxyOptions>>().Value.MetricsRequireAdminKey
                && !await services.GetRequiredService<AdminGate>().AuthorizeAsync(context, "/metrics"))
            {
                return;
            }

            await next(context);
        }), optionsName: null);
    }
}
