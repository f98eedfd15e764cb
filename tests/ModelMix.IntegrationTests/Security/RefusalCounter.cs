using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.IntegrationTests.Proxy;

namespace ModelMix.IntegrationTests.Security;

/// <summary>
/// Counts <c>modelmix.refusals</c> of one proxy, by status and type, straight from its meter factory's instruments (the
/// exporter behind <c>/metrics</c> keeps to its own proxy's meters too, ProxyTelemetry.OwnMetersOnly, but caches a scrape
/// 300 ms).
/// </summary>
internal sealed class RefusalCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _counts = new();

    public RefusalCounter(ProxyHarness harness)
    {
        var factory = harness.Services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name == "modelmix.refusals" && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? status = null, type = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "status")
                {
                    status = tag.Value?.ToString();
                }
                else if (tag.Key == "type")
                {
                    type = tag.Value?.ToString();
                }
            }

            _counts.AddOrUpdate($"{status} {type}", value, (_, old) => old + value);
        });
        _listener.Start();
    }

    /// <summary>Every refusal so far.</summary>
    public long Total => _counts.Values.Sum();

    /// <summary>Refusals with this status and type (<c>"403 permission_error"</c>).</summary>
    public long Of(string statusAndType) => _counts.GetValueOrDefault(statusAndType);

    public void Dispose() => _listener.Dispose();
}
