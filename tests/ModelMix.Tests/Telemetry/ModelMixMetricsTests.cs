using System.Diagnostics.Metrics;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Telemetry;

namespace ModelMix.Tests.Telemetry;

public sealed class ModelMixMetricsTests
{
    private static LedgerRecord Record(string id, string model, int attempt, string? escalatedFrom = null) => new()
    {
        Id = id,
        Timestamp = new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero),
        RequestId = "q1",
        RequestedModel = "auto-meta",
        RoutedModel = model,
        Policy = "meta",
        Attempt = attempt,
        EscalatedFrom = escalatedFrom,
        Usage = new TokenUsage(1000, 10),
        Cost = new CostBreakdown(0.001m, 0.00005m, 0m, 0m, 0m),
        HttpStatus = 200,
    };

    [Fact]
    public void A_meta_routed_request_counts_one_route_on_the_routed_model_and_two_attempts()
    {
        // A meter of this test's own: other tests running in parallel publish on meters of the same name.
        using var factory = new OwnMeterFactory();
        using var metrics = new ModelMixMetrics(factory);
        var measured = new List<(string Instrument, long Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, factory.Meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            measured.Add((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
        listener.Start();

        metrics.Record(Record("c1", "claude-haiku-4-5", LedgerRecord.RoutingCallAttempt));
        metrics.Record(Record("a1", "claude-opus-4-6", 1));
        metrics.Record(Record("a2", "claude-opus-4-6", 2, escalatedFrom: "claude-sonnet-4-6"));

        var route = Assert.Single(measured, m => m.Instrument == "modelmix.route");
        Assert.Equal(1, route.Value);
        Assert.Equal("claude-opus-4-6", route.Tags["model"]);
        Assert.Equal("meta", route.Tags["reason"]);
        Assert.Equal(3, measured.Count(m => m.Instrument == "modelmix.attempts"));
        Assert.Single(measured, m => m.Instrument == "modelmix.escalations");
    }

    private sealed class OwnMeterFactory : IMeterFactory
    {
        public Meter? Meter { get; private set; }

        public Meter Create(MeterOptions options) => Meter = new Meter(options);

        public void Dispose() => Meter?.Dispose();
    }
}
