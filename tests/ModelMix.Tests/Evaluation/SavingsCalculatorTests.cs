using ModelMix.Evaluation;
using ModelMix.Pricing;

namespace ModelMix.Tests.Evaluation;

/// <summary>
/// Expected values are computed by hand from the embedded price book (USD per million tokens; cache write 5m ×1.25,
/// 1h ×2, read ×0.1, batch ×0.5). Prices at 2026-03-20: Sonnet 4.5 $3/$15 (long context over 200K input: $6/$22.5),
/// Sonnet 4.6 (tier "sonnet") $3/$15, Haiku 4.5 (tier "haiku") $1/$5, Opus 4.6 (tier "opus") $5/$25, fast ×6.
/// The tiers are stated with <see cref="TestPrices.Tiers4x"/> (the default catalog's tiers are 5.x models).
/// </summary>
public sealed class SavingsCalculatorTests
{
    private static readonly PriceBook Book = TestPrices.Tiers4x;
    private static readonly DateTimeOffset PriceDate = new(2026, 3, 20, 0, 0, 0, TimeSpan.Zero);
    private const string Haiku = "claude-haiku-4-5-20251001";
    private const string Sonnet45 = "claude-sonnet-4-5-20250929";
    private const string Sonnet46 = "claude-sonnet-4-6";

    private static UsageRow Row(string model, TokenUsage usage, decimal? cost = null, DateTimeOffset? at = null) => new(at, model, usage, cost);

    [Fact]
    public void All_on_haiku_and_a_half_and_half_mix_reprice_the_same_tokens()
    {
        // 100,000 input + 10,000 output on Sonnet 4.5 = $0.30 + $0.15 = $0.45
        // all on Haiku 4.5: $0.10 + $0.05 = $0.15 → -$0.30, -66.67%
        // mix haiku=50,sonnet=50 (Sonnet 4.6): 0.5 × 0.15 + 0.5 × 0.45 = $0.30 → -$0.15, -33.33%
        var rows = new[] { Row("claude-sonnet-4-5", new TokenUsage(100_000, 10_000), cost: 0.45m) };

        var report = SavingsCalculator.Compute(rows, Book, PriceDate, ["haiku"], [WhatIfMix.Parse("haiku=50,sonnet=50", Book)]);

        Assert.Equal(["as-used", "all-on " + Haiku, "mix haiku=50,sonnet=50"], report.Scenarios.Select(s => s.Name));
        var asUsed = report.Scenarios[0];
        Assert.Equal(0.45m, asUsed.TotalUsd);
        Assert.Equal(0.45m, asUsed.ByModel[Sonnet45]);
        Assert.Equal(0m, asUsed.DifferenceUsd);
        Assert.Equal(0m, asUsed.DifferenceFraction);

        var allOn = report.Scenarios[1];
        Assert.Equal(0.15m, allOn.TotalUsd);
        Assert.Equal(-0.30m, allOn.DifferenceUsd);
        Assert.Equal(-0.6667m, Math.Round(allOn.DifferenceFraction, 4));

        var mix = report.Scenarios[2];
        Assert.Equal(0.30m, mix.TotalUsd);
        Assert.Equal(0.075m, mix.ByModel[Haiku]);
        Assert.Equal(0.225m, mix.ByModel[Sonnet46]);
        Assert.Equal(-0.15m, mix.DifferenceUsd);
        Assert.Equal(-0.3333m, Math.Round(mix.DifferenceFraction, 4));

        Assert.Equal(1, report.Calls);
        Assert.Equal(0.45m, report.RecordedUsd);
        Assert.Equal(1, report.CallsByModel[Sonnet45]);
    }

    [Fact]
    public void A_prompt_over_200K_tokens_pays_the_long_context_rate_on_the_model_that_has_one()
    {
        // 1,000,000 input + 100,000 output on Sonnet 4.5 is past its 200K threshold: $6 + $2.25 = $8.25 (not $4.5);
        // Opus 4.6 (tier "opus", 1M context at standard rates since 2026-03-13) has no long-context rate there:
        // $5 + $2.5 = $7.5 → -$0.75. (Haiku 4.5's 200K context could not hold the prompt: WhatIfRepricingTests.)
        var rows = new[] { Row("claude-sonnet-4-5", new TokenUsage(1_000_000, 100_000)) };

        var report = SavingsCalculator.Compute(rows, Book, PriceDate, ["opus"]);

        Assert.Equal(8.25m, report.Scenarios[0].TotalUsd);
        Assert.Equal(7.5m, report.Scenarios[1].TotalUsd);
        Assert.Equal(-0.75m, report.Scenarios[1].DifferenceUsd);
        Assert.Equal(0, report.Scenarios[1].InfeasibleCalls);
    }

    [Fact]
    public void Cache_tokens_keep_their_class_when_repriced()
    {
        // Sonnet 4.5: input 1,000 × $3 = 0.003; output 1,000 × $15 = 0.015; 5m write 10,000 × $3.75 = 0.0375;
        //             1h write 1,000 × $6 = 0.006; read 100,000 × $0.30 = 0.03 → $0.0915
        // Haiku 4.5:  0.001 + 0.005 + 10,000 × $1.25 = 0.0125 + 1,000 × $2 = 0.002 + 100,000 × $0.10 = 0.01 → $0.0305
        var usage = new TokenUsage(1_000, 1_000, CacheWrite5mTokens: 10_000, CacheWrite1hTokens: 1_000, CacheReadTokens: 100_000);

        var report = SavingsCalculator.Compute([Row(Sonnet45, usage)], Book, PriceDate, ["claude-haiku-4-5"]);

        Assert.Equal(0.0915m, report.Scenarios[0].TotalUsd);
        Assert.Equal(0.0305m, report.Scenarios[1].TotalUsd);
    }

    [Fact]
    public void Batch_rows_stay_at_batch_price_on_every_model()
    {
        // batch halves every rate: Sonnet 4.5 (0.30 + 0.15) / 2 = $0.225; Haiku (0.10 + 0.05) / 2 = $0.075;
        // mix opus=100: (0.50 + 0.25) / 2 = $0.375
        var rows = new[] { Row(Sonnet45, new TokenUsage(100_000, 10_000, ServiceTier: ServiceTier.Batch)) };

        var report = SavingsCalculator.Compute(rows, Book, PriceDate, ["haiku"], [WhatIfMix.Parse("opus=100", Book)]);

        Assert.Equal(0.225m, report.Scenarios[0].TotalUsd);
        Assert.Equal(0.075m, report.Scenarios[1].TotalUsd);
        Assert.Equal(0.375m, report.Scenarios[2].TotalUsd);
    }

    [Fact]
    public void A_fast_mode_call_moved_to_a_model_without_fast_mode_is_priced_at_standard_speed()
    {
        // Opus 4.6 fast ×6: (10,000 × $5 + 1,000 × $25) × 6 = (0.05 + 0.025) × 6 = $0.45
        // on Haiku (no fast mode) it would run at standard speed: 0.01 + 0.005 = $0.015
        // on Opus 4.6 itself it stays fast: $0.45
        var rows = new[] { Row("claude-opus-4-6", new TokenUsage(10_000, 1_000, Speed: Speed.Fast)) };

        var report = SavingsCalculator.Compute(rows, Book, PriceDate, ["haiku", "opus"]);

        Assert.Equal(0.45m, report.Scenarios[0].TotalUsd);
        Assert.Equal(0.015m, report.Scenarios[1].TotalUsd);
        Assert.Equal(0.45m, report.Scenarios[2].TotalUsd);
    }

    [Fact]
    public void An_unknown_model_in_the_traffic_is_an_error_never_zero()
    {
        var rows = new[] { Row(Haiku, new TokenUsage(10, 10)), Row("claude-imaginary-9", new TokenUsage(10, 10)) };

        var error = Assert.Throws<UnknownModelException>(() => SavingsCalculator.Compute(rows, Book, PriceDate));

        Assert.Contains("claude-imaginary-9", error.Message);
        Assert.IsAssignableFrom<PricingException>(error);
    }

    [Fact]
    public void An_unknown_all_on_model_is_a_pricing_error()
    {
        Assert.ThrowsAny<PricingException>(() => SavingsCalculator.Compute([Row(Haiku, new TokenUsage(10, 10))], Book, PriceDate, ["gpt-4o"]));
    }

    [Fact]
    public void Rows_without_recorded_cost_are_counted_and_still_repriced()
    {
        // two Haiku calls of 1,000,000 input: $1 each as used; only the first has a recorded cost
        var rows = new[]
        {
            Row(Haiku, new TokenUsage(1_000_000, 0), cost: 1m),
            Row("claude-haiku-4-5", new TokenUsage(1_000_000, 0), cost: null),
        };

        var report = SavingsCalculator.Compute(rows, Book, PriceDate);

        Assert.Equal(2, report.Calls);
        Assert.Equal(1, report.CallsWithoutRecordedCost);
        Assert.Equal(1m, report.RecordedUsd);
        Assert.Equal(1m, report.RecordedByModel[Haiku]);
        Assert.Equal(2, report.CallsByModel[Haiku]); // the alias counts under the canonical id
        Assert.Equal(2m, report.Scenarios[0].TotalUsd);
    }

    [Fact]
    public void The_span_is_the_earliest_and_latest_timestamp_and_no_traffic_is_zero_not_a_division_error()
    {
        var early = new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
        var late = early.AddDays(3);
        var report = SavingsCalculator.Compute(
            [Row(Haiku, new TokenUsage(1, 1), at: late), Row(Haiku, new TokenUsage(1, 1)), Row(Haiku, new TokenUsage(1, 1), at: early)],
            Book,
            PriceDate);
        Assert.Equal(early, report.From);
        Assert.Equal(late, report.To);

        var empty = SavingsCalculator.Compute([], Book, PriceDate, ["haiku"]);
        Assert.Equal(0, empty.Calls);
        Assert.Null(empty.From);
        Assert.Equal(0m, empty.Scenarios[1].TotalUsd);
        Assert.Equal(0m, empty.Scenarios[1].DifferenceFraction);
    }
}
