using System.Diagnostics.Metrics;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Telemetry;
using ModelMix.Tests.Telemetry;
using ModelMix.Tests.Pipeline;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// What the recorder does besides pricing, written for the ledger area's mutation testing (docs/testing.md, sixth
/// session): both ways of recording count the attempt in the metrics (with the cost it was recorded at), the refusal of
/// an attempt without a cost says what to do instead, and the recorder gives back the book and ledger it was built on.
/// Money by hand: Haiku 4.5 is $1 in and $5 out per MTok.
/// </summary>
public sealed class AttemptRecorderSurvivorTests
{
    private static readonly DateTimeOffset s_at = LedgerRecords.Start;

    [Fact]
    public async Task RecordAsync_counts_the_attempt_and_its_cost_in_the_metrics()
    {
        using var measured = new Measurements();
        var ledger = new RecordingLedger();
        var recorder = new AttemptRecorder(PriceBook.Default, ledger, measured.Metrics);

        // 1000 in, 100 out on Haiku 4.5: 1000 × $1 / 1e6 + 100 × $5 / 1e6 = 0.001 + 0.0005 = $0.0015.
        await recorder.RecordAsync(Attempt("a1", new TokenUsage(1000, 100)));

        Assert.Equal([1L], measured.Attempts);
        Assert.Equal([0.0015], measured.Costs);
        Assert.Equal("a1", Assert.Single(ledger.Records).Id);
    }

    [Fact]
    public async Task RecordPricedAsync_counts_the_attempt_and_its_cost_as_given_in_the_metrics()
    {
        using var measured = new Measurements();
        var ledger = new RecordingLedger();
        var recorder = new AttemptRecorder(PriceBook.Default, ledger, measured.Metrics);

        // Priced by the caller: $0.25 as given (2 in, 3 out on Haiku would be $0.000017: it is not priced again).
        await recorder.RecordPricedAsync(Attempt("a2", new TokenUsage(2, 3)) with { Cost = new CostBreakdown(0.25m, 0m, 0m, 0m, 0m) });

        Assert.Equal([1L], measured.Attempts);
        Assert.Equal([0.25], measured.Costs);
        Assert.Equal("a2", Assert.Single(ledger.Records).Id);
    }

    [Fact]
    public async Task An_attempt_without_a_cost_is_refused_saying_how_to_record_it()
    {
        var recorder = new AttemptRecorder(PriceBook.Default, new RecordingLedger());

        var error = await Assert.ThrowsAsync<ArgumentException>(() => recorder.RecordPricedAsync(Attempt("a3", new TokenUsage(10, 10))).AsTask());

        Assert.Equal("priced", error.ParamName);
        Assert.StartsWith("The attempt 'a3' has no cost; record it with RecordAsync, which prices it or marks it unpriced.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_recorder_gives_back_its_price_book_and_ledger()
    {
        var book = PriceBook.Parse("""{"models":[]}""", PriceBook.DefaultSourceName);
        var ledger = new RecordingLedger();

        var recorder = new AttemptRecorder(book, ledger);

        Assert.Same(book, recorder.Prices);
        Assert.Same(ledger, recorder.Ledger);
    }

    private static LedgerRecord Attempt(string id, TokenUsage usage) => new()
    {
        Id = id,
        Timestamp = s_at,
        RequestId = "req-1",
        RequestedModel = "claude-haiku-4-5",
        RoutedModel = "claude-haiku-4-5",
        Usage = usage,
        LatencyMs = 5,
        HttpStatus = 200,
    };

    /// <summary>The attempts and cost counted on a meter of the test's own (tests in parallel publish on meters of the same name).</summary>
    private sealed class Measurements : IDisposable
    {
        private readonly TestMeterFactory _factory = new();
        private readonly MeterListener _listener = new();

        public Measurements()
        {
            Metrics = new ModelMixMetrics(_factory);
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, _factory.Meter))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            {
                if (instrument.Name == "modelmix.attempts")
                {
                    Attempts.Add(value);
                }
            });
            _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
            {
                if (instrument.Name == "modelmix.cost_usd")
                {
                    Costs.Add(value);
                }
            });
            _listener.Start();
        }

        public ModelMixMetrics Metrics { get; }

        public List<long> Attempts { get; } = [];

        public List<double> Costs { get; } = [];

        public void Dispose()
        {
            _listener.Dispose();
            Metrics.Dispose();
            _factory.Dispose();
        }
    }
}
