using System.Diagnostics.Metrics;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Telemetry;

namespace ModelMix.Tests.Telemetry;

/// <summary>
/// Caller-chosen label values are bounded (issue 20 §6: 4,000 casings of one model made <c>/metrics</c> 13.5 MB): a
/// catalog model is one series in any casing, and unknown models, task labels and error types keep a bounded number
/// of values, the rest counted as <c>other</c>.
/// </summary>
public sealed class MetricLabelBoundsTests
{
    [Fact]
    public void A_catalog_model_in_any_casing_is_one_label_in_the_catalogs_spelling()
    {
        using var probe = new Probe();

        foreach (var casing in Casings("claude-haiku-4-5").Take(4000))
        {
            probe.Metrics.Record(Record(casing, errorType: null));
        }

        Assert.Equal(["claude-haiku-4-5"], probe.Values("modelmix.attempts", "gen_ai.request.model"));
        Assert.Equal(["claude-haiku-4-5"], probe.Values("modelmix.route", "model"));
        Assert.Equal(["claude-haiku-4-5"], probe.Values("modelmix.cost_usd", "model"));
    }

    [Fact]
    public void Models_the_catalog_does_not_know_keep_a_bounded_number_of_labels_matched_in_any_casing()
    {
        using var probe = new Probe();

        for (var i = 0; i < 1000; i++)
        {
            probe.Metrics.Record(Record($"claude-made-up-{i}", errorType: null));
            probe.Metrics.Record(Record($"CLAUDE-MADE-UP-{i}", errorType: null)); // the same name in another casing: no new value
        }

        probe.Metrics.Record(Record("claude-sonnet-4-6", errorType: null)); // a catalog model is never pushed out

        var models = probe.Values("modelmix.attempts", "gen_ai.request.model");
        Assert.Equal(ModelMixMetrics.MaxUnlistedModels + 2, models.Count); // the first 32 unknown, "other", and Sonnet
        Assert.Contains("claude-made-up-0", models);
        Assert.Contains("claude-made-up-31", models);
        Assert.DoesNotContain("claude-made-up-32", models);
        Assert.Contains("other", models);
        Assert.Contains("claude-sonnet-4-6", models);
        Assert.DoesNotContain(models, model => model.StartsWith("CLAUDE", StringComparison.Ordinal));
    }

    [Fact]
    public void Error_types_and_task_labels_are_bounded()
    {
        using var probe = new Probe();

        for (var i = 0; i < 500; i++)
        {
            probe.Metrics.Record(Record("claude-haiku-4-5", errorType: $"lying_upstream_type_{i}")); // an upstream chooses these
            probe.Metrics.RecordShadowAgreement(1.0, $"task-{i}", "exact"); // x-modelmix-task, chosen by callers
        }

        Assert.Equal(ModelMixMetrics.MaxErrorTypes + 1, probe.Values("modelmix.attempts", "error.type").Count);
        var tasks = probe.Values("modelmix.shadow.agreement", "task");
        Assert.Equal(ModelMixMetrics.MaxTaskLabels + 1, tasks.Count);
        Assert.Contains("other", tasks);
    }

    [Fact]
    public void A_price_book_of_the_callers_own_names_its_models()
    {
        var prices = PriceBook.Parse("""
            {"models": [{"id": "acme-model-1", "aliases": ["Acme-Latest"], "periods": [{"effectiveFrom": "2020-01-01", "input": 1, "output": 2}]}]}
            """, "test");
        using var probe = new Probe(prices);

        probe.Metrics.Record(Record("ACME-LATEST", errorType: null));
        probe.Metrics.Record(Record("acme-model-1", errorType: null));

        Assert.Equal(["Acme-Latest", "acme-model-1"], probe.Values("modelmix.attempts", "gen_ai.request.model"));
    }

    /// <summary>Every casing of <paramref name="name"/>'s letters, in order (2^letters of them).</summary>
    private static IEnumerable<string> Casings(string name)
    {
        var letters = name.Select((c, i) => (c, i)).Where(x => char.IsAsciiLetter(x.c)).Select(x => x.i).ToArray();
        for (long mask = 0; mask < 1L << Math.Min(letters.Length, 30); mask++)
        {
            var chars = name.ToCharArray();
            for (var bit = 0; bit < Math.Min(letters.Length, 30); bit++)
            {
                if ((mask & (1L << bit)) != 0)
                {
                    chars[letters[bit]] = char.ToUpperInvariant(chars[letters[bit]]);
                }
            }

            yield return new string(chars);
        }
    }

    private static LedgerRecord Record(string model, string? errorType) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        Timestamp = new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero),
        RequestId = "q1",
        RequestedModel = model,
        RoutedModel = model,
        Policy = "passthrough",
        Attempt = 1,
        Usage = new TokenUsage(100, 10),
        Cost = new CostBreakdown(0.001m, 0.00005m, 0m, 0m, 0m),
        Status = errorType is null ? LedgerStatus.Ok : LedgerStatus.Error,
        ErrorType = errorType,
        HttpStatus = errorType is null ? 200 : 500,
    };

    /// <summary>A metrics instance on a meter of its own (tests run in parallel), and the tag values it produced.</summary>
    private sealed class Probe : IDisposable
    {
        private readonly OwnMeterFactory _factory = new();
        private readonly MeterListener _listener = new();
        private readonly List<(string Instrument, Dictionary<string, object?> Tags)> _measured = [];

        public Probe(PriceBook? prices = null)
        {
            Metrics = new ModelMixMetrics(_factory, prices);
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, _factory.Meter))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) => _measured.Add((instrument.Name, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
            _listener.SetMeasurementEventCallback<double>((instrument, _, tags, _) => _measured.Add((instrument.Name, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
            _listener.Start();
        }

        public ModelMixMetrics Metrics { get; }

        public List<string> Values(string instrument, string tag) =>
            [.. _measured.Where(m => m.Instrument == instrument).Select(m => (string)m.Tags[tag]!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

        public void Dispose()
        {
            _listener.Dispose();
            Metrics.Dispose();
            _factory.Dispose();
        }
    }

    private sealed class OwnMeterFactory : IMeterFactory
    {
        public Meter? Meter { get; private set; }

        public Meter Create(MeterOptions options) => Meter = new Meter(options);

        public void Dispose() => Meter?.Dispose();
    }
}
