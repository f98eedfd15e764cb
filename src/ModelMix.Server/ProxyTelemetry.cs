using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Telemetry;
using OpenTelemetry.Metrics;

namespace ModelMix.Server;

/// <summary>OpenTelemetry metrics for the proxy, exported in Prometheus text at <c>GET /metrics</c>.</summary>
internal static class ProxyTelemetry
{
    public static void AddServices(IServiceCollection services)
    {
        services.AddSingleton(provider => new ModelMixMetrics(provider.GetRequiredService<IMeterFactory>()));
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(ModelMixMetrics.MeterName)
            // The runtime's own metrics (.NET 9+): CPU time, GC collections and pauses, bytes allocated, thread pool.
            .AddMeter("System.Runtime")
            .AddPrometheusExporter());
    }

    public static void MapEndpoints(WebApplication app) => app.MapPrometheusScrapingEndpoint("/metrics");
}
