using System.Globalization;
using ModelMix.Catalog;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Pipeline;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The recorder's edges, written for the ledger area's mutation testing (docs/testing.md): which usage counts as
/// "nothing consumed" (each token class and a server tool alone is owed money), what an unpriced attempt keeps of its
/// status and error type, a known model that cannot price this usage, the once-per-model unpriced warning and its
/// bound, and the effort recorded. Money is worked by hand: Haiku 4.5 is $1 in, $5 out, $1.25 5-minute write, $2 1-hour
/// write, $0.10 read per MTok; web search $10 per 1,000 uses.
/// </summary>
public sealed class AttemptRecorderEdgeTests
{
    private static readonly DateTimeOffset s_at = LedgerRecords.Start;

    private static readonly AttemptRecorder s_recorder = new(PriceBook.Default, new RecordingLedger());

    public static TheoryData<TokenUsage, string> OneClassAlone => new()
    {
        { new TokenUsage(InputTokens: 0, OutputTokens: 1000), "0.005" },                       // 1000 × $5 / 1e6
        { new TokenUsage(InputTokens: 1000, OutputTokens: 0), "0.001" },                       // 1000 × $1 / 1e6
        { new TokenUsage(0, 0, CacheWrite5mTokens: 1000), "0.00125" },                          // 1000 × $1.25 / 1e6
        { new TokenUsage(0, 0, CacheWrite1hTokens: 1000), "0.002" },                            // 1000 × $2 / 1e6
        { new TokenUsage(0, 0, CacheReadTokens: 1000), "0.0001" },                              // 1000 × $0.10 / 1e6
        { new TokenUsage(0, 0, WebSearchRequests: 3), "0.03" },                                 // 3 × $10 / 1000
    };

    [Theory]
    [MemberData(nameof(OneClassAlone))]
    public void Any_one_token_class_or_a_server_tool_alone_is_owed(TokenUsage usage, string expected)
    {
        Assert.True(s_recorder.TryCost("claude-haiku-4-5", null, usage, s_at, out var cost));

        Assert.Equal(decimal.Parse(expected, CultureInfo.InvariantCulture), cost.Total);
    }

    [Fact]
    public void An_answering_model_without_a_price_gives_way_to_the_routed_one()
    {
        // 1000 in × $1 + 100 out × $5 = 1000 + 500 = 1500 / 1e6 = 0.0015 (Haiku 4.5, the routed model).
        Assert.True(s_recorder.TryCost("claude-haiku-4-5", "made-up-model", new TokenUsage(1000, 100), s_at, out var cost));

        Assert.Equal(0.0015m, cost.Total);
    }

    [Fact]
    public void A_known_model_that_cannot_price_the_usage_is_unpriced_not_an_exception()
    {
        // Haiku 4.5 has no fast-mode price: the book refuses, the recorder marks the attempt unpriced.
        var fast = new TokenUsage(1000, 100, Speed: Speed.Fast);

        Assert.False(s_recorder.TryCost("claude-haiku-4-5", null, fast, s_at, out _));

        var priced = s_recorder.Price(Attempt("claude-haiku-4-5", fast));
        Assert.Null(priced.Cost);
        Assert.Equal(LedgerStatus.Unpriced, priced.Status);
        Assert.Equal("unpriced_model", priced.ErrorType);
    }

    [Fact]
    public void An_unpriced_failed_attempt_keeps_its_status_and_error_type()
    {
        var failed = Attempt("made-up-model", new TokenUsage(10, 10)) with { Status = LedgerStatus.Error, ErrorType = "overloaded_error", HttpStatus = 529 };

        var priced = s_recorder.Price(failed);

        Assert.Null(priced.Cost);
        Assert.Equal(LedgerStatus.Error, priced.Status);
        Assert.Equal("overloaded_error", priced.ErrorType);
    }

    [Fact]
    public void A_priced_attempt_keeps_its_status_and_gets_its_cost()
    {
        // 1000 in × $1 + 100 out × $5 = 1500 / 1e6 = 0.0015.
        var priced = s_recorder.Price(Attempt("claude-haiku-4-5", new TokenUsage(1000, 100)) with { Cost = null });

        Assert.Equal(0.0015m, priced.Cost?.Total);
        Assert.Equal(LedgerStatus.Ok, priced.Status);
        Assert.Null(priced.ErrorType);
    }

    [Fact]
    public async Task RecordAsync_stores_the_priced_record_and_returns_it()
    {
        var ledger = new RecordingLedger();
        var recorder = new AttemptRecorder(PriceBook.Default, ledger);
        var wrongCost = new CostBreakdown(1m, 1m, 0m, 0m, 0m);

        var recorded = await recorder.RecordAsync(Attempt("claude-haiku-4-5", new TokenUsage(1000, 100)) with { Cost = wrongCost });

        // The given cost is ignored and recomputed: 1000 × $1 + 100 × $5 = 1500 / 1e6 = 0.0015.
        Assert.Equal(0.0015m, recorded.Cost?.Total);
        Assert.Same(recorded, Assert.Single(ledger.Records));
    }

    [Fact]
    public void The_first_unpriced_sighting_of_a_model_is_reported_once_whatever_its_casing()
    {
        var recorder = new AttemptRecorder(PriceBook.Default, new RecordingLedger());

        Assert.True(recorder.IsFirstUnpricedSighting("made-up-model"));
        Assert.False(recorder.IsFirstUnpricedSighting("made-up-model"));
        Assert.False(recorder.IsFirstUnpricedSighting("MADE-UP-MODEL"));
        Assert.True(recorder.IsFirstUnpricedSighting("another-model"));
    }

    [Fact]
    public void Past_the_bound_no_new_model_is_reported()
    {
        var recorder = new AttemptRecorder(PriceBook.Default, new RecordingLedger());
        for (var i = 0; i < AttemptRecorder.MaxUnpricedModelsRemembered - 1; i++)
        {
            Assert.True(recorder.IsFirstUnpricedSighting($"model-{i}"));
        }

        Assert.True(recorder.IsFirstUnpricedSighting("the-last-one-remembered")); // the 256th
        Assert.False(recorder.IsFirstUnpricedSighting("one-too-many"));
        Assert.False(recorder.IsFirstUnpricedSighting("the-last-one-remembered"));
    }

    [Fact]
    public void The_effort_sent_is_recorded_as_sent()
    {
        Assert.Equal("low", s_recorder.EffortOf("claude-opus-4-6", EffortLevel.Low, out var isDefault));
        Assert.False(isDefault);
        Assert.Equal("max", s_recorder.EffortOf("made-up-model", EffortLevel.Max, out isDefault));
        Assert.False(isDefault);
    }

    [Fact]
    public void Without_an_effort_sent_the_models_default_is_recorded_and_marked_as_such()
    {
        // The catalog's default effort for Opus 4.6 is "high"; Haiku 4.5 takes no effort; an unknown model has no rules.
        Assert.Equal("high", s_recorder.EffortOf("claude-opus-4-6", EffortLevel.Unspecified, out var isDefault));
        Assert.True(isDefault);
        Assert.Null(s_recorder.EffortOf("claude-haiku-4-5", EffortLevel.Unspecified, out isDefault));
        Assert.False(isDefault);
        Assert.Null(s_recorder.EffortOf("made-up-model", EffortLevel.Unspecified, out isDefault));
        Assert.False(isDefault);
    }

    private static LedgerRecord Attempt(string routed, TokenUsage usage) => new()
    {
        Id = LedgerIds.New(s_at),
        Timestamp = s_at,
        RequestId = "req-edge",
        RequestedModel = "auto",
        RoutedModel = routed,
        Usage = usage,
        LatencyMs = 5,
        HttpStatus = 200,
    };
}
