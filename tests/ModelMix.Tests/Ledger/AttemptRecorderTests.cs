using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Pipeline;

namespace ModelMix.Tests.Ledger;

/// <summary><see cref="AttemptRecorder.TryCost"/> is the formula <see cref="AttemptRecorder.Price"/> applies; <see cref="AttemptRecorder.RecordPricedAsync"/> records what it is given.</summary>
public sealed class AttemptRecorderTests
{
    private static readonly DateTimeOffset s_at = LedgerRecords.Start;

    // 1200 in, 300 out, 40 cache reads. Haiku 4.5 ($1 / $5 / read $0.10 per MTok): 0.0012 + 0.0015 + 0.000004 = 0.002704.
    // Sonnet 4.5 ($3 / $15 / read $0.30): 0.0036 + 0.0045 + 0.000012 = 0.008112.
    [Theory]
    [InlineData("claude-haiku-4-5", null, "0.002704")]                // routed model priced
    [InlineData("claude-haiku-4-5", "claude-sonnet-4-5", "0.008112")] // the answering model's prices win
    [InlineData("not-a-model", "claude-sonnet-4-5", "0.008112")]      // an unpriced alias routed, a priced model answered
    public void TryCost_gives_the_cost_Price_fills_in(string routed, string? answered, string expectedTotal)
    {
        var recorder = new AttemptRecorder(PriceBook.Default, new RecordingLedger());
        var usage = new TokenUsage(InputTokens: 1200, OutputTokens: 300, CacheReadTokens: 40);

        Assert.True(recorder.TryCost(routed, answered, usage, s_at, out var cost));

        var priced = recorder.Price(Attempt(routed, answered, usage));
        Assert.Equal(priced.Cost, cost);
        Assert.Equal(decimal.Parse(expectedTotal, System.Globalization.CultureInfo.InvariantCulture), cost.Total);
    }

    [Fact]
    public void TryCost_is_zero_when_nothing_was_consumed_and_false_when_no_model_has_a_price()
    {
        var recorder = new AttemptRecorder(PriceBook.Default, new RecordingLedger());

        Assert.True(recorder.TryCost("not-a-model", null, default, s_at, out var nothing));
        Assert.Equal(CostBreakdown.Zero, nothing);
        Assert.False(recorder.TryCost("not-a-model", "nor-this", new TokenUsage(10, 10), s_at, out _));
        Assert.Equal(LedgerStatus.Unpriced, recorder.Price(Attempt("not-a-model", "nor-this", new TokenUsage(10, 10))).Status);
    }

    [Fact]
    public async Task RecordPricedAsync_records_the_attempt_as_given_and_refuses_one_without_a_cost()
    {
        var ledger = new RecordingLedger();
        var recorder = new AttemptRecorder(PriceBook.Default, ledger);
        var usage = new TokenUsage(InputTokens: 100, OutputTokens: 20);
        Assert.True(recorder.TryCost("claude-haiku-4-5", null, usage, s_at, out var cost));
        var attempt = Attempt("claude-haiku-4-5", null, usage) with { Cost = cost };

        var recorded = await recorder.RecordPricedAsync(attempt);

        Assert.Same(attempt, recorded);
        Assert.Same(attempt, Assert.Single(ledger.Records));
        var unpriced = Attempt("claude-haiku-4-5", null, usage);
        await Assert.ThrowsAsync<ArgumentException>(() => recorder.RecordPricedAsync(unpriced).AsTask());
        Assert.Single(ledger.Records);
    }

    private static LedgerRecord Attempt(string routed, string? answered, TokenUsage usage) => new()
    {
        Id = LedgerIds.New(s_at),
        Timestamp = s_at,
        RequestId = "req-1",
        RequestedModel = "auto",
        RoutedModel = routed,
        ResponseModel = answered,
        Usage = usage,
        LatencyMs = 5,
        HttpStatus = 200,
    };
}
