using System.Diagnostics.Metrics;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Telemetry;

namespace ModelMix.Tests.Telemetry;

/// <summary><c>modelmix.cost_usd</c> by (model, effort) and <c>modelmix.thinking_dropped</c> by model.</summary>
public sealed class EffortAndThinkingMetricsTests
{
    private static LedgerRecord Record(string id, string model, string? effort, int dropped, decimal cost) => new()
    {
        Id = id,
        Timestamp = new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero),
        RequestId = "q-" + id,
        RequestedModel = model,
        RoutedModel = model,
        Policy = "passthrough",
        Effort = effort,
        EffortIsDefault = effort is null,
        ThinkingBlocksDropped = dropped,
        Usage = new TokenUsage(1000, 10),
        Cost = new CostBreakdown(cost, 0m, 0m, 0m, 0m),
        HttpStatus = 200,
    };

    [Fact]
    public void Cost_carries_the_effort_tag_and_dropped_thinking_blocks_are_counted_per_model()
    {
        // A meter of this test's own: other tests running in parallel publish on meters of the same name.
        using var factory = new OwnMeterFactory();
        using var metrics = new ModelMixMetrics(factory);
        var measured = new List<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
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
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
            measured.Add((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
        listener.Start();

        metrics.Record(Record("a", "claude-opus-4-6", "high", dropped: 3, cost: 0.5m));
        metrics.Record(Record("b", "claude-opus-4-6", "low", dropped: 0, cost: 0.25m));
        metrics.Record(Record("c", "claude-haiku-4-5", null, dropped: 2, cost: 0.125m));
        metrics.Record(Record("d", "claude-opus-4-6", "high", dropped: 1, cost: 0.5m));

        // Cost by (model, effort): opus/high 0.5 + 0.5 = 1.0, opus/low 0.25, haiku/none 0.125.
        var cost = measured.Where(m => m.Instrument == "modelmix.cost_usd")
            .GroupBy(m => ((string)m.Tags["model"]!, (string)m.Tags["effort"]!))
            .ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
        Assert.Equal(3, cost.Count);
        Assert.Equal(1.0, cost[("claude-opus-4-6", "high")]);
        Assert.Equal(0.25, cost[("claude-opus-4-6", "low")]);
        Assert.Equal(0.125, cost[("claude-haiku-4-5", "none")]);

        // Dropped blocks by model, only for records with some: opus 3 + 1 = 4, haiku 2; record b adds nothing.
        var dropped = measured.Where(m => m.Instrument == "modelmix.thinking_dropped").ToList();
        Assert.Equal(3, dropped.Count);
        Assert.All(dropped, m => Assert.Equal(["model"], m.Tags.Keys));
        Assert.Equal(4.0, dropped.Where(m => (string)m.Tags["model"]! == "claude-opus-4-6").Sum(m => m.Value));
        Assert.Equal(2.0, dropped.Where(m => (string)m.Tags["model"]! == "claude-haiku-4-5").Sum(m => m.Value));
    }

    private sealed class OwnMeterFactory : IMeterFactory
    {
        public Meter? Meter { get; private set; }

        public Meter Create(MeterOptions options) => Meter = new Meter(options);

        public void Dispose() => Meter?.Dispose();
    }
}
