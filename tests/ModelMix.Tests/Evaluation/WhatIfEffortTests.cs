using ModelMix.Evaluation;
using ModelMix.Pricing;

namespace ModelMix.Tests.Evaluation;

/// <summary>
/// <c>savings --mix</c> entries with an effort (<c>opus@low=30</c>): output tokens estimated from the traffic's own
/// per-effort averages, refused without enough calls. Prices at 2026-12-01 (embedded catalog, USD per MTok): Claude
/// Opus 5.5 $4 / $20.
/// </summary>
public sealed class WhatIfEffortTests
{
    private const string Opus55 = "claude-opus-5-5";
    private static readonly PriceBook Book = PriceBook.Default;
    private static readonly DateTimeOffset PriceDate = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static IEnumerable<UsageRow> Calls(int count, long output, string? effort) =>
        Enumerable.Range(0, count).Select(_ => new UsageRow(null, Opus55, new TokenUsage(1_000, output), null) { Effort = effort });

    [Fact]
    public void An_effort_entry_scales_each_calls_output_by_the_models_own_per_effort_averages()
    {
        // 20 calls at medium: 1,000 in + 1,000 out = $0.004 + $0.020 = $0.024 each → $0.48
        // 20 calls at low:    1,000 in +   400 out = $0.004 + $0.008 = $0.012 each → $0.24; as used $0.72.
        // opus@low: a medium call's output × (mean at low 400 / mean at medium 1,000) = 400; a low call's × 1 = 400.
        // 40 × $0.012 = $0.48, i.e. -$0.24 (-33.33%). Output 28,000 recorded → 16,000 estimated.
        var rows = Calls(20, 1_000, "medium").Concat(Calls(20, 400, "low")).ToList();

        var report = SavingsCalculator.Compute(rows, Book, PriceDate, mixes: [WhatIfMix.Parse("opus@low=100", Book)]);

        var mix = report.Scenarios[1];
        Assert.Equal(0.72m, report.Scenarios[0].TotalUsd);
        Assert.Equal(0.48m, mix.TotalUsd);
        Assert.Equal(0.48m, mix.ByModel[Opus55 + "@low"]);
        Assert.Equal(-0.24m, mix.DifferenceUsd);
        var estimate = Assert.Single(mix.EffortEstimates);
        Assert.Equal(new WhatIfEffortEstimate(Opus55 + "@low", 20, 400m, 28_000m, 16_000m), estimate);
        Assert.Empty(report.Scenarios[0].EffortEstimates); // as-used reprices recorded tokens: no estimate
    }

    [Fact]
    public void A_call_whose_effort_is_unknown_is_compared_with_the_models_mean_over_all_its_calls()
    {
        // The unknown-effort call's 1,000 output: × 400 / (29,000 / 41 calls) = 1,000 × 16,400 / 29,000 = 565.5… → 566.
        // Estimated: 20 × 400 (medium, × 0.4) + 20 × 400 (low) + 566 = 16,566; recorded 20,000 + 8,000 + 1,000 = 29,000.
        var rows = Calls(20, 1_000, "medium").Concat(Calls(20, 400, "low")).Concat(Calls(1, 1_000, null)).ToList();

        var report = SavingsCalculator.Compute(rows, Book, PriceDate, mixes: [WhatIfMix.Parse("opus@low=100", Book)]);

        var estimate = Assert.Single(report.Scenarios[1].EffortEstimates);
        Assert.Equal(29_000m, estimate.RecordedOutputTokens);
        Assert.Equal(16_566m, estimate.EstimatedOutputTokens);
        // 41 calls × $0.004 input + 16,566 × $20 / 1e6 = $0.164 + $0.33132 = $0.49532
        Assert.Equal(0.49532m, report.Scenarios[1].TotalUsd);
    }

    [Fact]
    public void Without_enough_calls_at_that_effort_the_mix_is_refused_saying_what_is_missing()
    {
        var rows = Calls(30, 1_000, "medium").Concat(Calls(19, 400, "low")).ToList();

        var error = Assert.Throws<InvalidOperationException>(() =>
            SavingsCalculator.Compute(rows, Book, PriceDate, mixes: [WhatIfMix.Parse("haiku=50,opus@low=50", Book)]));

        Assert.Contains("claude-opus-5-5@low cannot be estimated: the traffic has 19 call(s) on claude-opus-5-5 at low effort, and at least 20 are needed", error.Message, StringComparison.Ordinal);
        Assert.Contains("shadow mode", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_mix_without_effort_is_not_estimated()
    {
        var report = SavingsCalculator.Compute(Calls(3, 1_000, "medium"), Book, PriceDate, mixes: [WhatIfMix.Parse("opus=100", Book)]);

        Assert.Empty(report.Scenarios[1].EffortEstimates);
        Assert.Equal(report.Scenarios[0].TotalUsd, report.Scenarios[1].TotalUsd);
    }
}
