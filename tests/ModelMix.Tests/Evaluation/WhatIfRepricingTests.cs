using ModelMix.Catalog;
using ModelMix.Evaluation;
using ModelMix.Pricing;

namespace ModelMix.Tests.Evaluation;

/// <summary>
/// What-if repricing checks every call against the target's catalog facts: a call the target could not have served
/// is counted, and priced as it was served (on the model that served it, at its as-used cost), never silently on the
/// target. Prices of the embedded catalog at 2026-12-01 (USD per MTok): Sonnet 4.6 $3/$15 (1M context, 128K output,
/// accepts inference_geo); Haiku 4.5 $1/$5 (200K context, 64K output, refuses inference_geo); Haiku 5.5 $0.10/$0.50
/// for prompts up to 100K tokens (1M context, accepts inference_geo); inference_geo "us" ×1.1, "global" ×1.
/// </summary>
public sealed class WhatIfRepricingTests
{
    private static readonly PriceBook Book = PriceBook.Default;
    private static readonly DateTimeOffset PriceDate = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private const string Haiku45 = "claude-haiku-4-5-20251001";
    private const string Haiku55 = "claude-haiku-5-5";
    private const string Sonnet46 = "claude-sonnet-4-6";
    private const string Opus46 = "claude-opus-4-6";

    /// <summary>
    /// Four Sonnet 4.6 calls, as used at 2026-12-01:
    /// c1 a 210,000-token prompt + 1,000 out: 0.63 + 0.015 = $0.645 (over Haiku 4.5's 200K context);
    /// c2 10,000 in + 1,000 out in inference_geo "us": (0.03 + 0.015) × 1.1 = $0.0495 (Haiku 4.5 refuses inference_geo);
    /// c3 10,000 in + 1,000 out in "global": 0.03 + 0.015 = $0.045 (fits Haiku 4.5);
    /// c4 1,000 in + 70,000 out: 0.003 + 1.05 = $1.053 (over Haiku 4.5's 64K maximum output).
    /// As used: 0.645 + 0.0495 + 0.045 + 1.053 = $1.7925.
    /// </summary>
    private static UsageRow[] Calls() =>
    [
        new(null, Sonnet46, new TokenUsage(210_000, 1_000), 0.645m),
        new(null, Sonnet46, new TokenUsage(10_000, 1_000, InferenceGeo: "us"), 0.0495m),
        new(null, Sonnet46, new TokenUsage(10_000, 1_000, InferenceGeo: "global"), 0.045m),
        new(null, Sonnet46, new TokenUsage(1_000, 70_000), 1.053m),
    ];

    [Fact]
    public void All_on_a_model_that_cannot_serve_some_calls_counts_them_and_keeps_them_on_the_model_that_served_them()
    {
        var report = SavingsCalculator.Compute(Calls(), Book, PriceDate, ["claude-haiku-4-5"]);

        Assert.Equal(1.7925m, report.Scenarios[0].TotalUsd);
        var allOn = report.Scenarios[1];
        Assert.Equal("all-on " + Haiku45, allOn.Name);
        // Only c3 moves: 10,000 × $1 + 1,000 × $5 = 0.01 + 0.005 = $0.015 (its "global" carries no multiplier).
        // c1, c2, c4 stay on Sonnet 4.6 as used: 0.645 + 0.0495 + 1.053 = $1.7475. Total $1.7625, -$0.03 (not -$1.7475).
        Assert.Equal(0.015m, allOn.ByModel[Haiku45]);
        Assert.Equal(1.7475m, allOn.ByModel[Sonnet46]);
        Assert.Equal(1.7625m, allOn.TotalUsd);
        Assert.Equal(-0.03m, allOn.DifferenceUsd);
        Assert.Equal(3, allOn.InfeasibleCalls);
        Assert.Equal(
            [
                new WhatIfInfeasible(Haiku45, RuleViolation.ContextWindow, 1, 0.645m),
                new WhatIfInfeasible(Haiku45, RuleViolation.MaxOutput, 1, 1.053m),
                new WhatIfInfeasible(Haiku45, RuleViolation.InferenceGeo, 1, 0.0495m),
            ],
            allOn.Infeasible);
        Assert.Equal(["context-window", "max-output", "inference-geo"], allOn.Infeasible.Select(calls => calls.ReasonCode));
    }

    [Fact]
    public void A_call_that_sent_an_effort_moves_only_to_a_model_that_accepts_that_effort()
    {
        // Two Opus 4.6 calls ($5/$25 per MTok), 10,000 in + 1,000 out: 0.05 + 0.025 = $0.075 each. e1 sent effort max;
        // e2 ran at Opus 4.6's default (high) because it sent none, so its recorded effort is no constraint.
        UsageRow[] calls =
        [
            new(null, Opus46, new TokenUsage(10_000, 1_000), 0.075m) { Effort = "max", EffortSent = true },
            new(null, Opus46, new TokenUsage(10_000, 1_000), 0.075m) { Effort = "high" },
        ];

        var allOn = SavingsCalculator.Compute(calls, Book, PriceDate, ["claude-haiku-4-5"]).Scenarios[1];

        // e2 moves to Haiku 4.5: 10,000 × $1 + 1,000 × $5 per MTok = 0.01 + 0.005 = $0.015. e1 stays on Opus 4.6 at its
        // as-used $0.075: Haiku 4.5 takes no effort parameter (it would answer 400).
        Assert.Equal(0.015m, allOn.ByModel[Haiku45]);
        Assert.Equal(0.075m, allOn.ByModel[Opus46]);
        Assert.Equal(0.09m, allOn.TotalUsd);
        Assert.Equal(1, allOn.InfeasibleCalls);
        Assert.Equal([new WhatIfInfeasible(Haiku45, RuleViolation.EffortUnsupported, 1, 0.075m)], allOn.Infeasible);
        Assert.Equal("effort-unsupported", allOn.Infeasible[0].ReasonCode);

        // A mix entry at an effort judges the entry's effort, not the call's: Sonnet 4.6 at low takes every call (its estimate needs 20 calls there at low).
        var mix = WhatIfMix.Parse("claude-sonnet-4-6@low=100", Book);
        Assert.Equal(0, SavingsCalculator.Compute([.. calls, .. Enumerable.Repeat(new UsageRow(null, Sonnet46, new TokenUsage(100, 10), null) { Effort = "low" }, 20)], Book, PriceDate, mixes: [mix]).Scenarios[1].InfeasibleCalls);
    }

    [Fact]
    public void Check_judges_the_effort_a_call_sent_and_not_a_default()
    {
        var usage = new TokenUsage(10_000, 1_000);

        Assert.Equal(RuleViolation.EffortUnsupported, WhatIfRepricing.Check(Book, Haiku45, usage, PriceDate, EffortLevel.Max));
        Assert.Equal(RuleViolation.EffortLevel, WhatIfRepricing.Check(Book, "claude-opus-4-5-20251101", usage, PriceDate, EffortLevel.Max)); // low, medium, high only
        Assert.Equal(RuleViolation.None, WhatIfRepricing.Check(Book, "claude-opus-4-5-20251101", usage, PriceDate, EffortLevel.High));
        Assert.Equal(RuleViolation.None, WhatIfRepricing.Check(Book, Haiku45, usage, PriceDate, EffortLevel.Unspecified));
        Assert.Equal(EffortLevel.Max, WhatIfRepricing.SentEffort("max", isDefault: false));
        Assert.Equal(EffortLevel.Unspecified, WhatIfRepricing.SentEffort("high", isDefault: true));
        Assert.Equal(EffortLevel.Unspecified, WhatIfRepricing.SentEffort(null, isDefault: false));
    }

    [Fact]
    public void A_mix_keeps_only_the_infeasible_share_on_the_served_model()
    {
        var mix = WhatIfMix.Parse("claude-haiku-4-5=50,claude-sonnet-4-6=50", Book);

        var scenario = SavingsCalculator.Compute(Calls(), Book, PriceDate, mixes: [mix]).Scenarios[1];

        // Haiku 4.5's half: c3 only, 0.5 × 0.015 = $0.0075. Sonnet 4.6: its own half of every call, 0.5 × 1.7925 =
        // 0.89625, plus the half Haiku could not take of c1, c2, c4: 0.5 × 1.7475 = 0.87375 → $1.77. Total $1.7775.
        Assert.Equal(0.0075m, scenario.ByModel[Haiku45]);
        Assert.Equal(1.77m, scenario.ByModel[Sonnet46]);
        Assert.Equal(1.7775m, scenario.TotalUsd);
        Assert.Equal(3, scenario.InfeasibleCalls);
        Assert.Equal([0.3225m, 0.5265m, 0.02475m], scenario.Infeasible.Select(calls => calls.KeptUsd)); // halves of 0.645, 1.053, 0.0495
    }

    [Fact]
    public void The_inference_geo_multiplier_stays_on_a_target_that_accepts_inference_geo()
    {
        var report = SavingsCalculator.Compute(Calls(), Book, PriceDate, ["claude-haiku-5-5"]);

        var allOn = report.Scenarios[1];
        // Haiku 5.5 serves all four. c1's 210,000-token prompt is over its 100K band, so the whole call bills at
        // $0.50 / $2.50: 0.105 + 0.0025 = 0.1075. c2 (us): (0.001 + 0.0005) × 1.1 = 0.00165. c3: 0.001 + 0.0005 = 0.0015.
        // c4: 0.0001 + 0.035 = 0.0351. Total 0.1075 + 0.00165 + 0.0015 + 0.0351 = $0.14575.
        Assert.Equal(0.14575m, allOn.TotalUsd);
        Assert.Equal(0.14575m, allOn.ByModel[Haiku55]);
        Assert.Equal(0, allOn.InfeasibleCalls);
        Assert.Empty(allOn.Infeasible);
    }

    [Fact]
    public void Check_names_the_catalog_fact_a_call_breaks()
    {
        Assert.Equal(RuleViolation.ContextWindow, WhatIfRepricing.Check(Book, "claude-haiku-4-5", new TokenUsage(200_001, 1), PriceDate));
        Assert.Equal(RuleViolation.None, WhatIfRepricing.Check(Book, "claude-haiku-4-5", new TokenUsage(200_000, 1), PriceDate));
        // The context counts every prompt token: 150,000 uncached + 60,000 cache reads = 210,000 > 200,000.
        Assert.Equal(RuleViolation.ContextWindow, WhatIfRepricing.Check(Book, "claude-haiku-4-5", new TokenUsage(150_000, 1, CacheReadTokens: 60_000), PriceDate));
        Assert.Equal(RuleViolation.MaxOutput, WhatIfRepricing.Check(Book, "claude-haiku-4-5", new TokenUsage(1, 64_001), PriceDate));
        Assert.Equal(RuleViolation.InferenceGeo, WhatIfRepricing.Check(Book, "claude-haiku-4-5", new TokenUsage(1, 1, InferenceGeo: "us"), PriceDate));
        Assert.Equal(RuleViolation.None, WhatIfRepricing.Check(Book, "claude-haiku-4-5", new TokenUsage(1, 1, InferenceGeo: "global"), PriceDate));
        Assert.Equal(RuleViolation.None, WhatIfRepricing.Check(Book, "claude-haiku-5-5", new TokenUsage(1, 1, InferenceGeo: "us"), PriceDate));
        // Sonnet 4.5 retired on 2026-11-30: it could not serve anything at the price date, but could the day before.
        Assert.Equal(RuleViolation.Retired, WhatIfRepricing.Check(Book, "claude-sonnet-4-5", new TokenUsage(1, 1), PriceDate));
        Assert.Equal(RuleViolation.None, WhatIfRepricing.Check(Book, "claude-sonnet-4-5", new TokenUsage(1, 1), new DateTimeOffset(2026, 11, 29, 0, 0, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void The_proxy_reads_inference_geo_so_routing_never_sends_it_to_a_model_that_refuses_it()
    {
        using var body = System.Text.Json.JsonDocument.Parse("""{"model":"auto","inference_geo":"us","messages":[{"role":"user","content":"hi"}]}""");
        var traits = RequestTraitsReader.Read(body.RootElement);

        Assert.True(traits.InferenceGeo);
        Assert.Equal(RuleViolation.InferenceGeo, ModelRuleCheck.Check(Book.GetEntry("claude-haiku-4-5"), traits, 10, 100, PriceDate));
        Assert.Equal(RuleViolation.None, ModelRuleCheck.Check(Book.GetEntry("claude-haiku-5-5"), traits, 10, 100, PriceDate));
    }
}
