using ModelMix.Evaluation;
using ModelMix.Routing;

namespace ModelMix.Tests.Evaluation;

/// <summary>Router v2 on small synthetic data whose right answers are known: the middle tier, the task prior, the guard.</summary>
public sealed class RouterV2Tests
{
    private static readonly EvaluationTiers Three = new("c", "m", "t");
    private static readonly LearnedRouterTrainingOptions Fast = new() { Features = new LearnedFeatureSettings(HashBits: 12), Folds = 3, Epochs = 5 };

    /// <summary>
    /// 40 prompts per task. 'easy': every tier right. 'hard': only the top right. 'medium' (when asked): the middle
    /// and top right, the cheap wrong. Costs: cheap $1, top $10, the middle as given.
    /// </summary>
    private static List<DatasetRecord> Data(decimal midCost, bool medium, string source = "shadow")
    {
        var records = new List<DatasetRecord>();
        var tasks = medium ? new[] { "easy", "hard", "medium" } : ["easy", "hard"];
        foreach (var task in tasks)
        {
            for (var i = 0; i < 40; i++)
            {
                var (c, m) = task switch { "easy" => (1.0, 1.0), "medium" => (0.0, 1.0), _ => (0.0, 0.0) };
                records.Add(new DatasetRecord
                {
                    Id = $"{source}/{task}/{i}",
                    Source = source,
                    Task = task,
                    Prompt = $"{task} question number {i}: please answer it",
                    Candidates = new Dictionary<string, DatasetCandidate>
                    {
                        ["c"] = new(c, 1m),
                        ["m"] = new(m, midCost),
                        ["t"] = new(1, 10m),
                    },
                });
            }
        }

        return records;
    }

    [Fact]
    public void A_middle_tier_that_never_pays_is_dropped_and_eval_says_so()
    {
        // The middle tier costs 8 of the top's 10 and is right exactly where the cheap one is: it never adds quality.
        var records = Data(8m, medium: false);
        var fit = RouterTraining.CrossFit(records, "pairs.jsonl", Three, DatasetSplit.Train, 42, Fast);

        var calibration = RouterTraining.Calibrate(fit, 0.95, null);

        Assert.True(calibration.Met);
        Assert.True(fit.Router.MidDropped);
        Assert.False(fit.Router.UsesMid);
        Assert.Equal(0, calibration.TierShares[1]);
        Assert.Contains("m (at 80", calibration.MidDropped, StringComparison.Ordinal);
        Assert.Contains("never pays for its price", calibration.MidDropped, StringComparison.Ordinal);
        Assert.True(LearnedRouter.Parse(fit.Router.ToJson(), "r.json").MidDropped);

        var report = OfflineEvaluator.Evaluate(records, "pairs.jsonl", Three, new OfflineEvaluationOptions { Split = DatasetSplit.Test, Seed = 42, Router = fit.Router });
        Assert.Equal(0, report.Policies.Single(p => p.Name == "learned").ShareByModel["m"]);
        Assert.Contains(report.Notes, n => n.StartsWith("The learned router does not use its middle tier m: it never pays for its price.", StringComparison.Ordinal));
    }

    [Fact]
    public void A_middle_tier_that_pays_for_its_price_is_kept_and_used_where_it_pays()
    {
        // 'medium' prompts: the middle tier (3 of the top's 10) is as good as the top, the cheap one is not.
        var records = Data(3m, medium: true);
        var fit = RouterTraining.CrossFit(records, "pairs.jsonl", Three, DatasetSplit.All, 42, Fast);

        // A floor of 1: no prompt may lose quality, so the cheapest routing is the right tier for each.
        var calibration = RouterTraining.Calibrate(fit, 1.0, null);

        Assert.True(calibration.Met);
        Assert.False(fit.Router.MidDropped);
        Assert.Null(calibration.MidDropped);
        Assert.Equal(LearnedTier.Mid, fit.Router.Choose(fit.Router.Score("medium question number 7: please answer it", "medium")));
        Assert.Equal(LearnedTier.Cheap, fit.Router.Choose(fit.Router.Score("easy question number 7: please answer it", "easy")));
        Assert.Equal(LearnedTier.Top, fit.Router.Choose(fit.Router.Score("hard question number 7: please answer it", "hard")));

        // Hand-derived: easy → cheap $1, medium → mid $3, hard → top $10 on 40 prompts each: 560 of the top's 1,200.
        Assert.Equal(560.0 / 1200, calibration.CostPctOfTop, 9);
        Assert.Equal(1.0, calibration.QualityPctOfTop, 9);
    }

    [Fact]
    public void The_task_prior_is_the_shrunk_mean_gap_per_label_and_the_overall_mean_for_unknown_labels()
    {
        // Gaps (top − cheap): a: 1, 0; b: 1; unlabelled: 0. Overall mean 2/4 = 0.5.
        // Shrunk with 2 pseudo-examples of 0.5: a = (1 + 0 + 2·0.5) / (2 + 2) = 0.5; b = (1 + 2·0.5) / (1 + 2) = 2/3.
        var prior = LearnedTaskPrior.Fit(["a", "a", "B", null], [1, 0, 1, 0], [0, 0, 0, 0], strength: 2);

        Assert.Equal(0.5, prior.CheapGain, 12);
        Assert.Equal(0.5, prior.Lookup("a").Cheap, 12);
        Assert.Equal(2 / 3.0, prior.Lookup("b").Cheap, 12);
        Assert.Equal(0.5, prior.Lookup("never seen").Cheap, 12);
        Assert.Equal(0.5, prior.Lookup(null).Cheap, 12);
        Assert.Equal(2, prior.Tasks["A"].Count);
    }

    [Fact]
    public void The_task_prior_is_a_feature_of_the_linear_scorer_and_a_scorer_of_its_own()
    {
        var examples = Enumerable.Range(0, 40)
            .Select(i => LearnedRouterExample.FromOutcomes($"question {i}", i % 2 == 0 ? "easy" : "hard", cheapOk: i % 2 == 0, midOk: true))
            .ToList();
        var tiers = new LearnedRouterTiers("c", null, "t");

        var with = LearnedRouterTrainer.Train(examples, tiers, Fast with { Scorers = LearnedScorers.TaskPrior | LearnedScorers.Linear });
        var without = LearnedRouterTrainer.Train(examples, tiers, Fast with { TaskPriorFeature = false });

        Assert.NotEqual(0f, with.Cheap.PriorWeight);
        Assert.Equal(0f, without.Cheap.PriorWeight);
        var priorOnly = LearnedRouterTrainer.Train(examples, tiers, Fast with { Scorers = LearnedScorers.TaskPrior });
        // Prior only: the gap of 'easy' is 0, of 'hard' 1, overall 0.5; 'easy' shrunk with 20 pseudo-examples of the
        // overall mean: (20·0 + 20·0.5) / 40 = 0.25. An unknown label gets the overall 0.5.
        Assert.Equal(0.25, priorOnly.Score("anything", "easy").CheapGain, 9);
        Assert.Equal(0.5, priorOnly.Score("anything", "unknown").CheapGain, 9);
    }

    [Fact]
    public void Tier_choice_weighs_the_expected_gain_against_the_price()
    {
        var router = LearnedRouterTrainer.Train([LearnedRouterExample.FromOutcomes("x", null, true, true)], new LearnedRouterTiers("c", "m", "t"), Fast);
        router.TierCosts = new LearnedTierCosts(0.1, 0.5);

        // λ = 1: cheap costs gap + 0.1, mid gap + 0.5, top 1.
        Assert.Equal(LearnedTier.Cheap, router.Choose(new LearnedScore(0.3, 0.0), 1, useMid: true));  // 0.4 < 0.5 < 1
        Assert.Equal(LearnedTier.Mid, router.Choose(new LearnedScore(0.6, 0.0), 1, useMid: true));    // 0.5 < 0.7
        Assert.Equal(LearnedTier.Top, router.Choose(new LearnedScore(0.95, 0.6), 1, useMid: true));   // 1 < 1.05, 1.1
        Assert.Equal(LearnedTier.Cheap, router.Choose(new LearnedScore(0.6, 0.0), 1, useMid: false)); // 0.7 < 1
        Assert.Equal(LearnedTier.Mid, router.Choose(new LearnedScore(0.9, 0.4), 1, useMid: true));    // 0.9 < 1.0 (cheap), 1 (top)

        // A tie goes to the cheaper tier: cheap 0.75 + 0.25 = 1 = top's 1.
        router.TierCosts = new LearnedTierCosts(0.25, 0.5);
        Assert.Equal(LearnedTier.Cheap, router.Choose(new LearnedScore(0.75, 0.75), 1, useMid: true));
        Assert.Equal(LearnedTier.Top, router.Choose(new LearnedScore(0.875, 0.75), 1, useMid: true));
    }

    [Fact]
    public void The_guard_wants_in_domain_evidence_that_beats_random()
    {
        var router = LearnedRouterTrainer.Train([LearnedRouterExample.FromOutcomes("x", null, true, true)], new LearnedRouterTiers("c", null, "t"), Fast);
        var evidence = new LearnedRouterEvidence
        {
            Dataset = "pairs.jsonl", Split = "all", Prompts = 500, Scores = RouterTraining.OutOfFold, InDomain = true,
            Apgr = 0.62, ApgrLower = 0.55, ApgrUpper = 0.69, Confidence = 0.95, Resamples = 1000,
        };

        Assert.Contains("records no evidence", LearnedRouterGuard.Check(router).Reason, StringComparison.Ordinal);
        Assert.False(LearnedRouterGuard.Check(router).Allowed);

        router.Evidence = evidence;
        Assert.True(LearnedRouterGuard.Check(router).Allowed);
        Assert.Contains("APGR 0.620 (95% bootstrap interval 0.550–0.690", LearnedRouterGuard.Check(router).Reason, StringComparison.Ordinal);

        router.Evidence = evidence with { ApgrLower = 0.49 };
        Assert.False(LearnedRouterGuard.Check(router).Allowed);
        Assert.Contains("does not beat random", LearnedRouterGuard.Check(router).Reason, StringComparison.Ordinal);

        router.Evidence = evidence with { InDomain = false, Domain = "routerbench-train.jsonl is not shadow pairs" };
        Assert.False(LearnedRouterGuard.Check(router).Allowed);
        Assert.Contains("not from this deployment's traffic", LearnedRouterGuard.Check(router).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Shadow_pairs_count_as_in_domain_evidence_and_a_benchmark_does_not_unless_declared()
    {
        var shadow = RouterTraining.CrossFit(Data(8m, medium: false), "pairs.jsonl", Three, DatasetSplit.All, 42, Fast);
        RouterTraining.Calibrate(shadow, 0.95, null);
        var bench = RouterTraining.CrossFit(Data(8m, medium: false, source: "routerbench"), "bench.jsonl", Three, DatasetSplit.All, 42, Fast);
        RouterTraining.Calibrate(bench, 0.95, null);

        Assert.True(shadow.Router.Evidence!.InDomain);
        Assert.True(shadow.Router.Evidence.BeatsRandom);
        Assert.True(LearnedRouterGuard.Check(shadow.Router).Allowed);
        Assert.False(bench.Router.Evidence!.InDomain);
        Assert.False(LearnedRouterGuard.Check(bench.Router).Allowed);

        RouterTraining.Calibrate(bench, 0.95, null, inDomain: true);
        Assert.True(bench.Router.Evidence!.InDomain);
        Assert.Equal("declared in-domain (--in-domain)", bench.Router.Evidence.Domain);
    }
}
