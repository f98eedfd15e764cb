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
    public void Trained_calibrated_router_beats_random_at_the_same_cost_on_the_held_out_split()
    {
        var router = RouterTraining.Train(Records.Value, "routerbench-train.jsonl", Tiers, DatasetSplit.Train, 42);
        var calibration = RouterTraining.Calibrate(router, Records.Value, "routerbench-train.jsonl", DatasetSplit.Calibration, 42, 0.93, null);

        // Calibration keeps the floor on the calibration split.
        Assert.True(calibration.Met);
        Assert.True(calibration.QualityPctOfTop >= 0.93, $"calibration kept {calibration.QualityPctOfTop:P1}");

        var report = OfflineEvaluator.Evaluate(Records.Value, "routerbench-train.jsonl", Tiers, new OfflineEvaluationOptions { Split = DatasetSplit.Test, Seed = 42, Router = router });
        var learned = report.Policies.Single(p => p.Name == "learned");
        var random = report.Policies.Single(p => p.Name == "random");
        var rules = report.Policies.Single(p => p.Name == "rules");
        Assert.Equal((double)learned.CostUsd, (double)random.CostUsd, 6);
        Assert.True(learned.Quality > random.Quality + 0.03, $"learned {learned.Quality:0.000} vs random {random.Quality:0.000} at the same cost");
        Assert.True(learned.Apgr > 0.55, $"APGR {learned.Apgr}");
        Assert.True(learned.QualityPctOfTop > rules.QualityPctOfTop && learned.CostPctOfTop < rules.CostPctOfTop);
        Assert.True(learned.CostPctOfTop <= 0.5, $"cost {learned.CostPctOfTop:P1}");
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
    }
}
