using ModelMix.Evaluation;
using ModelMix.Routing;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Evaluation;

/// <summary>
/// The learned router on real data, in small slices so CI stays fast (the full-file figures are
/// bench/RouterCrossFit's): ../shared/data/routerbench-train.jsonl, split by seed 42.
/// </summary>
public sealed class LearnedRouterTests
{
    private const string Name = "routerbench-train.jsonl";
    private static readonly EvaluationTiers Tiers = new("claude-instant-v1", "claude-v1", "gpt-4-1106-preview");
    private static readonly Lazy<List<DatasetRecord>> Records = new(() => RoutingDataset.Read(SharedData.File(Name)).ToList());

    // 150 prompts of each task: enough for every fold to see every task, small enough to cross-fit in about a second.
    private static readonly Lazy<List<DatasetRecord>> Slice = new(() => [.. Records.Value.GroupBy(r => r.Task).SelectMany(g => g.Take(150))]);

    private static readonly LearnedRouterTrainingOptions Fast = new() { Features = new LearnedFeatureSettings(HashBits: 14), Folds = 3, Epochs = 4 };

    private static readonly Lazy<RouterCrossFit> SliceFit = new(() => RouterTraining.CrossFit(Slice.Value, "slice.jsonl", Tiers, DatasetSplit.All, 42, Fast));

    [Fact]
    public void Oracle_on_the_whole_file_matches_the_figures_the_data_readme_quotes()
    {
        // shared/data/README.md: a perfect router keeps 103.5% of the top model's quality at 23.9% of its cost.
        var report = OfflineEvaluator.Evaluate(Records.Value, Name, Tiers, new OfflineEvaluationOptions { Split = DatasetSplit.All });

        var oracle = report.Policies.Single(p => p.Name == "oracle");
        Assert.Equal(1.035, oracle.QualityPctOfTop, 3);
        Assert.Equal(0.239, oracle.CostPctOfTop, 3);
        Assert.Equal(0.76, report.Policies.Single(p => p.Name == "always-cheap").QualityPctOfTop, 2);
    }

    [Fact]
    public void Cross_fitting_scores_every_prompt_out_of_fold_and_keeps_extra_scorers_only_when_they_beat_one()
    {
        var fit = SliceFit.Value;

        Assert.Equal(fit.Records.Count, fit.OutOfFold.Count);
        Assert.Equal(450, fit.Records.Count + fit.Skipped);
        Assert.Equal(3, fit.Router.Training!.Folds);
        Assert.Equal("all", fit.Router.Training.Split);
        Assert.Equal(RouterTraining.ScorerCandidates.Count, fit.ScorerApgr.Count);
        var single = fit.ScorerApgr[LearnedRouter.ScorerNames(LearnedScorers.Linear)];
        var kept = fit.ScorerApgr[LearnedRouter.ScorerNames(fit.Scorers)];
        Assert.True(fit.Scorers == LearnedScorers.Linear || kept > single, $"kept {fit.Scorers} at {kept} over linear at {single}");
        Assert.Equal(fit.ScorerApgr.Values.Max(), kept);
        Assert.Equal(fit.Scorers, fit.Router.Scorers);

        // The out-of-fold scores are not the refit router's scores: each comes from a model that did not see the prompt.
        var refit = fit.Records.Select(r => fit.Router.Score(r.Prompt, r.Task)).ToList();
        Assert.NotEqual(refit, fit.OutOfFold);
    }

    [Fact]
    public void Out_of_fold_calibration_holds_the_floor_and_records_evidence_against_random()
    {
        var fit = RouterTraining.CrossFit(Slice.Value, "slice.jsonl", Tiers, DatasetSplit.All, 42, Fast);

        var calibration = RouterTraining.Calibrate(fit, 0.93, null);

        Assert.True(calibration.Met);
        Assert.Equal(RouterTraining.OutOfFold, calibration.Scores);
        Assert.Equal(fit.Records.Count, calibration.Prompts);
        Assert.True(calibration.QualityPctOfTop >= 0.93, $"kept {calibration.QualityPctOfTop:P1}");
        Assert.Equal(1, calibration.TierShares.Sum(), 9);
        var evidence = fit.Router.Evidence!;
        Assert.Equal(RouterTraining.OutOfFold, evidence.Scores);
        Assert.False(evidence.InDomain); // routerbench is a public benchmark, not this deployment's traffic
        Assert.Contains("not shadow pairs", evidence.Domain, StringComparison.Ordinal);
        Assert.Equal(1000, evidence.Resamples);
        Assert.InRange(evidence.Apgr, evidence.ApgrLower, evidence.ApgrUpper);
        Assert.True(evidence.ApgrUpper - evidence.ApgrLower is > 0.02 and < 0.3, $"{evidence.ApgrLower}–{evidence.ApgrUpper}");
        Assert.Equal(evidence.ApgrLower > 0.5, evidence.BeatsRandom);
    }

    [Fact]
    public void Calibrating_on_the_data_it_was_cross_fitted_on_recomputes_the_same_out_of_fold_scores()
    {
        var fit = RouterTraining.CrossFit(Slice.Value, "slice.jsonl", Tiers, DatasetSplit.All, 42, Fast);
        var once = RouterTraining.Calibrate(fit, 0.93, null);
        var price = fit.Router.PriceOfQuality;
        var loaded = LearnedRouter.Parse(fit.Router.ToJson(), "router.json");

        var again = RouterTraining.Calibrate(loaded, Slice.Value, "slice.jsonl", DatasetSplit.All, 42, 0.93, null);

        Assert.Equal(price, loaded.PriceOfQuality);
        Assert.Equal(once.CostPctOfTop, again.CostPctOfTop);
        Assert.Equal(once.QualityPctOfTop, again.QualityPctOfTop);
        Assert.Equal(fit.Router.Evidence!.Apgr, loaded.Evidence!.Apgr);
        Assert.Throws<InvalidOperationException>(() => RouterTraining.Calibrate(loaded, Slice.Value, "slice.jsonl", DatasetSplit.Train, 42, 0.93, null));
    }

    [Fact]
    public void A_lower_confidence_bound_calibrates_more_conservatively_than_the_point_estimate()
    {
        var fit = RouterTraining.CrossFit(Slice.Value, "slice.jsonl", Tiers, DatasetSplit.All, 42, Fast);
        var point = RouterTraining.Calibrate(fit, 0.93, null, confidence: 0.5);
        var bounded = RouterTraining.Calibrate(fit, 0.93, null, confidence: 0.95);

        Assert.True(point.QualityPctOfTop >= 0.93);
        Assert.True(bounded.QualityPctOfTop > point.QualityPctOfTop, $"{bounded.QualityPctOfTop:P1} vs {point.QualityPctOfTop:P1}");
        Assert.True(bounded.CostPctOfTop > point.CostPctOfTop);
        Assert.Throws<ArgumentOutOfRangeException>(() => RouterTraining.Calibrate(fit, 0.93, null, confidence: 0.3));
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
        var router = RouterTraining.Train(Slice.Value, "slice.jsonl", Tiers, DatasetSplit.All, 42, Fast with { Scorers = LearnedScorers.Linear | LearnedScorers.Words | LearnedScorers.TaskPrior });
        var tail = string.Concat(Enumerable.Repeat("Which statement best explains why magnets stick? A) iron B) smooth ", 40))[..2000];
        var text = new string('x', 5000) + tail;
        Assert.Equal(router.Score(new string('y', 5000) + tail, "arc_challenge"), router.Score(text, "arc_challenge"));
        Assert.NotEqual(router.Score(tail + "  a different question?", "arc_challenge"), router.Score(tail, "arc_challenge"));
        Assert.NotEqual(router.Score(tail, "arc_challenge"), router.Score(tail, "winograde"));

        // Both scoring paths: with words heads (four weights per feature) and without (two).
        var linear = RouterTraining.Train(Slice.Value, "slice.jsonl", Tiers, DatasetSplit.All, 42, Fast with { Scorers = LearnedScorers.Linear | LearnedScorers.TaskPrior });
        foreach (var scorer in new[] { router, linear })
        {
            scorer.Score(text, "arc_challenge");
            scorer.Score(text, "a task it never saw");
            AssertScoringAllocatesNothing(() =>
            {
                for (var i = 0; i < 100; i++)
                {
                    scorer.Score(text, "arc_challenge");
                    scorer.Score(text, "a task it never saw");
                    scorer.Score(text, null);
                }
            });
        }

        // The two paths compute the linear heads alike: the same router without its words heads scores the same.
        var withoutWords = router.WithScorers(LearnedScorers.Linear, null);
        Assert.Null(withoutWords.CheapWords);
        Assert.Equal(router.ScoreParts(text, "mbpp").LinearCheap, withoutWords.ScoreParts(text, "mbpp").LinearCheap, 12);
        Assert.Equal(router.ScoreParts(text, "mbpp").LinearMid, withoutWords.ScoreParts(text, "mbpp").LinearMid, 12);
        Assert.NotEqual(router.ScoreParts(text, "mbpp").LinearCheap, router.ScoreParts(text, "mbpp").WordsCheap);
    }

    [Fact]
    public void Training_is_deterministic_and_the_file_round_trips()
    {
        var a = RouterTraining.Train(Slice.Value, "slice.jsonl", Tiers, DatasetSplit.Train, 42, Fast with { Scorers = LearnedScorers.Linear | LearnedScorers.Words | LearnedScorers.TaskPrior });
        var b = RouterTraining.Train(Slice.Value, "slice.jsonl", Tiers, DatasetSplit.Train, 42, Fast with { Scorers = LearnedScorers.Linear | LearnedScorers.Words | LearnedScorers.TaskPrior });
        a.PriceOfQuality = 0.25;
        b.PriceOfQuality = 0.25;
        a.MidDropped = b.MidDropped = true;

        Assert.Equal(a.ToJson(), b.ToJson());
        var loaded = LearnedRouter.Parse(a.ToJson(), "router.json");
        const string Prompt = "Write a function to find the shared elements from the given two lists.";
        Assert.Equal(a.Score(Prompt, "mbpp"), loaded.Score(Prompt, "mbpp"));
        Assert.Equal(a.Score(Prompt, null), loaded.Score(Prompt, null));
        Assert.Equal(0.25, loaded.PriceOfQuality);
        Assert.True(loaded.MidDropped);
        Assert.Equal(a.TierCosts, loaded.TierCosts);
        Assert.Equal(a.Scorers, loaded.Scorers);
        Assert.Equal(a.Prior.Tasks.Keys.Order(), loaded.Prior.Tasks.Keys.Order());
        Assert.Equal("slice.jsonl", loaded.Training!.Dataset);
    }

    [Fact]
    public void Tier_costs_come_from_the_training_data()
    {
        var router = RouterTraining.Train(Slice.Value, "slice.jsonl", Tiers, DatasetSplit.All, 42, Fast);
        var prompts = Slice.Value.Where(r => r.Candidates.ContainsKey(Tiers.Cheap) && r.Candidates.ContainsKey(Tiers.Mid!) && r.Candidates.ContainsKey(Tiers.Top)).ToList();
        var top = prompts.Sum(r => r.Candidates[Tiers.Top].CostUsd);

        Assert.Equal((double)(prompts.Sum(r => r.Candidates[Tiers.Cheap].CostUsd) / top), router.TierCosts.Cheap, 9);
        Assert.Equal((double)(prompts.Sum(r => r.Candidates[Tiers.Mid!].CostUsd) / top), router.TierCosts.Mid, 9);
    }

    [Fact]
    public void Evaluating_on_the_data_the_router_saw_is_refused()
    {
        var onTrain = RouterTraining.Train(Slice.Value, Name, Tiers, DatasetSplit.Train, 42, Fast);
        var error = Assert.Throws<InvalidOperationException>(() => OfflineEvaluator.Evaluate(
            Records.Value, Name, Tiers, new OfflineEvaluationOptions { Split = DatasetSplit.All, Router = onTrain }));
        Assert.Contains("--split test", error.Message, StringComparison.Ordinal);

        var onAll = RouterTraining.CrossFit(Slice.Value, Name, Tiers, DatasetSplit.All, 42, Fast).Router;
        var all = Assert.Throws<InvalidOperationException>(() => OfflineEvaluator.Evaluate(
            Records.Value, Name, Tiers, new OfflineEvaluationOptions { Split = DatasetSplit.Test, Seed = 42, Router = onAll }));
        Assert.Contains("saw every prompt", all.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_router_file_is_rejected_with_a_clear_message()
    {
        var error = Assert.Throws<RoutingConfigurationException>(() => LearnedRouter.Parse("{\"format\":\"modelmix-router\",\"version\":7}", "r.json"));

        Assert.Contains("version 7", error.Message, StringComparison.Ordinal);
        var old = Assert.Throws<RoutingConfigurationException>(() => LearnedRouter.Parse("{\"format\":\"modelmix-router\",\"version\":2}", "old.json"));
        Assert.Contains("'old.json' has version 2", old.Message, StringComparison.Ordinal);
        Assert.Contains("retrain", old.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Asserts that <paramref name="round"/> (300 scorings) allocates nothing on this thread in at least one of up to
    /// five rounds. An allocation in scoring itself happens on every call, so it shows in every round and fails this;
    /// what one round may also count is work the runtime does on the test's thread at a moment it picks (the single
    /// round this test used to measure failed once on a host at load 60–80, and never again alone, under load or with
    /// collections forced beside it: see docs/testing.md). A failure lists each round's bytes, with the methods this
    /// thread compiled and the collections during it, so a real allocation and the runtime's can be told apart.
    /// </summary>
    private static void AssertScoringAllocatesNothing(Action round)
    {
        var rounds = new List<string>();
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var compiled = System.Runtime.JitInfo.GetCompiledMethodCount(currentThread: true);
            var collections = GC.CollectionCount(0);
            var before = GC.GetAllocatedBytesForCurrentThread();
            round();
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated == 0)
            {
                return;
            }

            rounds.Add($"{allocated} bytes ({System.Runtime.JitInfo.GetCompiledMethodCount(currentThread: true) - compiled} methods compiled on this thread, {GC.CollectionCount(0) - collections} gen-0 collections)");
        }

        Assert.Fail("Scoring allocated in every round: " + string.Join("; ", rounds));
    }
}
