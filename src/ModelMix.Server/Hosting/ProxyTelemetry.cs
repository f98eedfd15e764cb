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

        // Only this host's own ModelMix instruments: a MeterListener hears every meter of that name in the process, so a
        // second proxy in it (an app hosting two, the tests' parallel harnesses) would add its counts to this one's series,
        // and when it stopped its disposed meter would end the shared series here too (the SDK deactivates a stream when
        // any instrument feeding it completes): the series left /metrics after the next scrape.
        services.ConfigureOpenTelemetryMeterProvider((provider, builder) => builder.AddView(OwnMetersOnly(provider.GetRequiredService<IMeterFactory>())));
    }

    /// <summary>
    /// A view that drops instruments of meters another <see cref="IMeterFactory"/> (another host's container) created;
    /// meters of this host's factory and process-wide static meters (no factory: the runtime's, the overrun counter) stay.
    /// </summary>
    internal static Func<Instrument, MetricStreamConfiguration?> OwnMetersOnly(IMeterFactory own) =>
        instrument => instrument.Meter.Scope is IMeterFactory other && !ReferenceEquals(other, own) ? MetricStreamConfiguration.Drop : null;

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
