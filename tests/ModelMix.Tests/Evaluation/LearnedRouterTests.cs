using ModelMix.Evaluation;
using ModelMix.Routing;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Evaluation;

/// <summary>The learned router on real data: ../shared/data/routerbench-train.jsonl, split by seed 42.</summary>
public sealed class LearnedRouterTests
{
    private static readonly EvaluationTiers Tiers = new("claude-instant-v1", "claude-v1", "gpt-4-1106-preview");
    private static readonly Lazy<List<DatasetRecord>> Records = new(() => RoutingDataset.Read(SharedData.File("routerbench-train.jsonl")).ToList());

    [Fact]
    public void Oracle_on_the_whole_file_matches_the_figures_the_data_readme_quotes()
    {
        // shared/data/README.md: a perfect router keeps 103.5% of the top model's quality at 23.9% of its cost.
        var report = OfflineEvaluator.Evaluate(Records.Value, "routerbench-train.jsonl", Tiers, new OfflineEvaluationOptions { Split = DatasetSplit.All });

        var oracle = report.Policies.Single(p => p.Name == "oracle");
        Assert.Equal(1.035, oracle.QualityPctOfTop, 3);
        Assert.Equal(0.239, oracle.CostPctOfTop, 3);
        Assert.Equal(0.76, report.Policies.Single(p => p.Name == "always-cheap").QualityPctOfTop, 2);
    }

    [Fact]
    public void Trained_calibrated_router_reaches_the_issue_bar_on_the_held_out_split()
    {
        var router = RouterTraining.Train(Records.Value, "routerbench-train.jsonl", Tiers, DatasetSplit.Train, 42);
        var calibration = RouterTraining.Calibrate(router, Records.Value, "routerbench-train.jsonl", DatasetSplit.Calibration, 42, 0.93, null);

        // Calibration keeps the floor on the calibration split, with the margin of its lower confidence bound.
        Assert.True(calibration.Met);
        Assert.Equal(RouterTraining.DefaultConfidence, calibration.Confidence);
        Assert.True(calibration.QualityPctOfTop >= 0.94, $"calibration kept {calibration.QualityPctOfTop:P1}");

        var report = OfflineEvaluator.Evaluate(Records.Value, "routerbench-train.jsonl", Tiers, new OfflineEvaluationOptions { Split = DatasetSplit.Test, Seed = 42, Router = router });
        var learned = report.Policies.Single(p => p.Name == "learned");
        var random = report.Policies.Single(p => p.Name == "random");
        var rules = report.Policies.Single(p => p.Name == "rules");
        Assert.Equal((double)learned.CostUsd, (double)random.CostUsd, 6);
        Assert.True(learned.Quality > random.Quality + 0.03, $"learned {learned.Quality:0.000} vs random {random.Quality:0.000} at the same cost");
        Assert.True(learned.Apgr > 0.55, $"APGR {learned.Apgr}");
        Assert.True(learned.QualityPctOfTop > rules.QualityPctOfTop && learned.CostPctOfTop < rules.CostPctOfTop);

        // Issue 6's bar, on prompts the router never saw: ≥ 92% of the top's quality at ≤ 50% of its cost.
        Assert.True(learned.QualityPctOfTop >= 0.92, $"quality {learned.QualityPctOfTop:P1}");
        Assert.True(learned.CostPctOfTop <= 0.5, $"cost {learned.CostPctOfTop:P1}");
    }

    [Fact]
    public void A_lower_confidence_bound_calibrates_more_conservatively_than_the_point_estimate()
    {
        var router = RouterTraining.Train(Records.Value, "routerbench-train.jsonl", Tiers, DatasetSplit.Train, 42);
        var point = RouterTraining.Calibrate(router, Records.Value, "routerbench-train.jsonl", DatasetSplit.Calibration, 42, 0.93, null, confidence: 0.5);
        var bounded = RouterTraining.Calibrate(router, Records.Value, "routerbench-train.jsonl", DatasetSplit.Calibration, 42, 0.93, null, confidence: 0.95);

        Assert.True(point.QualityPctOfTop >= 0.93);
        Assert.True(bounded.QualityPctOfTop > point.QualityPctOfTop + 0.01, $"{bounded.QualityPctOfTop:P1} vs {point.QualityPctOfTop:P1}");
        Assert.True(bounded.CostPctOfTop > point.CostPctOfTop);
        Assert.Throws<ArgumentOutOfRangeException>(() => RouterTraining.Calibrate(router, Records.Value, "routerbench-train.jsonl", DatasetSplit.Calibration, 42, 0.93, null, confidence: 0.3));
    }

    [Fact]
    public void The_normal_quantile_matches_known_values()
    {
        Assert.Equal(1.6448536, RouterTraining.NormalQuantile(0.95), 5);
        Assert.Equal(2.3263479, RouterTraining.NormalQuantile(0.99), 5);
        Assert.Equal(0.0, RouterTraining.NormalQuantile(0.5), 9);
    }

    [Fact]
    public void Scoring_a_long_prompt_reads_only_its_tail_and_allocates_nothing()
    {
        var router = RouterTraining.Train(Records.Value, "routerbench-train.jsonl", Tiers, DatasetSplit.Train, 42);
        var tail = string.Concat(Enumerable.Repeat("Which statement best explains why magnets stick? A) iron B) smooth ", 40))[..2000];
        var text = new string('x', 5000) + tail;
        Assert.Equal(router.Score(new string('y', 5000) + tail, "arc_challenge"), router.Score(text, "arc_challenge"));
        Assert.NotEqual(router.Score(tail + "  a different question?", "arc_challenge"), router.Score(tail, "arc_challenge"));
        Assert.NotEqual(router.Score(tail, "arc_challenge"), router.Score(tail, "winograde"));

        router.Score(text, "arc_challenge");
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            router.Score(text, "arc_challenge");
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Training_is_deterministic_and_the_file_round_trips()
    {
        var a = RouterTraining.Train(Records.Value, "routerbench-train.jsonl", Tiers, DatasetSplit.Train, 42);
        var b = RouterTraining.Train(Records.Value, "routerbench-train.jsonl", Tiers, DatasetSplit.Train, 42);

        Assert.Equal(a.ToJson(), b.ToJson());
        var loaded = LearnedRouter.Parse(a.ToJson(), "router.json");
        const string Prompt = "Write a function to find the shared elements from the given two lists.";
        Assert.Equal(a.Score(Prompt, "mbpp"), loaded.Score(Prompt, "mbpp"));
        Assert.Equal("routerbench-train.jsonl", loaded.Training!.Dataset);
    }

    [Fact]
    public void Evaluating_on_the_data_the_router_was_trained_on_is_refused()
    {
        var router = RouterTraining.Train(Records.Value, "routerbench-train.jsonl", Tiers, DatasetSplit.Train, 42);

        var error = Assert.Throws<InvalidOperationException>(() => OfflineEvaluator.Evaluate(
            Records.Value, "routerbench-train.jsonl", Tiers, new OfflineEvaluationOptions { Split = DatasetSplit.All, Router = router }));

        Assert.Contains("--split test", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_router_file_is_rejected_with_a_clear_message()
    {
        var error = Assert.Throws<RoutingConfigurationException>(() => LearnedRouter.Parse("{\"format\":\"modelmix-router\",\"version\":7}", "r.json"));

        Assert.Contains("version 7", error.Message, StringComparison.Ordinal);
        var old = Assert.Throws<RoutingConfigurationException>(() => LearnedRouter.Parse("{\"format\":\"modelmix-router\",\"version\":1}", "old.json"));
        Assert.Contains("'old.json' has version 1", old.Message, StringComparison.Ordinal);
        Assert.Contains("retrain", old.Message, StringComparison.Ordinal);
    }
}
