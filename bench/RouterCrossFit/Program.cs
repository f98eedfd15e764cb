// The learned router's figures for docs/evaluation.md ("Router v2"), from the public API only:
//   1. out-of-fold APGR with a 95% bootstrap interval on the whole training file, v1's model against v2's
//      (and the steps between), every model cross-fitted with the same 5 folds;
//   2. v2 calibrated at a 0.93 floor on those out-of-fold scores (the middle tier dropped or not);
//   3. held out: v1's procedure (train 60%, thresholds on calibration 20%) against v2's (cross-fit on the 80% that is
//      not test, calibrate out of fold), both reported on the same test split;
//   4. the verified cascade on MBPP (the dataset `modelmix dataset verified` builds).
//
//   dotnet run -c Release --project bench/RouterCrossFit -- ../shared/data/routerbench-train.jsonl [claude-instant-v1 claude-v1 gpt-4-1106-preview]
using System.Diagnostics;
using System.Globalization;
using ModelMix.Evaluation;
using ModelMix.Routing;

var path = args.Length > 0 ? args[0] : "/work/shared/data/routerbench-train.jsonl";
var tiers = args.Length >= 4 ? new EvaluationTiers(args[1], args[2] == "-" ? null : args[2], args[3]) : new EvaluationTiers("claude-instant-v1", "claude-v1", "gpt-4-1106-preview");
var floor = 0.93;
const int Seed = 42;
var name = Path.GetFileName(path);
var records = RoutingDataset.Read(path).ToList();
Console.WriteLine($"{name}: {records.Count} records; tiers {tiers.Cheap} / {tiers.Mid ?? "-"} / {tiers.Top}; seed {Seed}; floor {floor}");

var v1 = new LearnedRouterTrainingOptions { GainTarget = false, TaskPriorFeature = false, Scorers = LearnedScorers.Linear };
if (args.Contains("--speed"))
{
    // CPU time per Score call (process CPU time ÷ calls, which contention on a shared machine does not inflate the way
    // it inflates wall-clock means), for a router with every scorer (the most work a router file can ask for).
    var ticket = "You are a support triage assistant. Classify the customer ticket below into exactly one category: billing, bug, feature_request, account_access, other. Answer with the category only. Ticket #48213 Subject: Charged twice for March Body: Hi, I upgraded to the Team plan on March 3rd and my card statement shows two charges of $49.00 on the same day.";
    var longPrompt = string.Concat(Enumerable.Repeat(ticket, 20));
    foreach (var scorers in new[] { LearnedScorers.Linear | LearnedScorers.TaskPrior, LearnedScorers.Linear | LearnedScorers.Words | LearnedScorers.TaskPrior })
    {
    var router = RouterTraining.Train(records, name, tiers, DatasetSplit.Train, Seed, new LearnedRouterTrainingOptions { Scorers = scorers });
    foreach (var (label, text) in new[] { ("short ticket", ticket), ("long prompt", longPrompt) })
    {
        for (var i = 0; i < 20_000; i++)
        {
            router.Score(text, "classification");
        }

        const int Calls = 200_000;
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Calls; i++)
        {
            router.Score(text, "classification");
        }

        var bytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
        process.Refresh();
        var perCall = (process.TotalProcessorTime - cpu).TotalMicroseconds / Calls;
        Console.WriteLine($"{LearnedRouter.ScorerNames(scorers)}, {label} ({text.Length} chars): {perCall:0.00} µs CPU per call, {bytes} B allocated in {Calls} calls");
    }
    }

    return;
}

if (args.Contains("--explore"))
{
    foreach (var (label, o) in new (string, LearnedRouterTrainingOptions)[]
    {
        ("prior only", new() { Scorers = LearnedScorers.TaskPrior }),
        ("linear L2 1e-4 e20", new() { Scorers = LearnedScorers.Linear }),
        ("linear L2 1e-3 e20", new() { Scorers = LearnedScorers.Linear, L2 = 1e-3 }),
        ("linear L2 3e-3 e20", new() { Scorers = LearnedScorers.Linear, L2 = 3e-3 }),
        ("linear L2 1e-4 e5", new() { Scorers = LearnedScorers.Linear, Epochs = 5 }),
        ("linear L2 1e-3 e5", new() { Scorers = LearnedScorers.Linear, Epochs = 5, L2 = 1e-3 }),
        ("words L2 1e-4", new() { Scorers = LearnedScorers.Words }),
        ("words L2 1e-3", new() { Scorers = LearnedScorers.Words, L2 = 1e-3 }),
        ("all L2 1e-3", new() { Scorers = LearnedScorers.Linear | LearnedScorers.Words | LearnedScorers.TaskPrior, L2 = 1e-3 }),
        ("linear+prior L2 1e-3", new() { Scorers = LearnedScorers.Linear | LearnedScorers.TaskPrior, L2 = 1e-3 }),
        ("linear no char-grams", new() { Scorers = LearnedScorers.Linear, Features = new LearnedFeatureSettings(CharNgrams: 0) }),
        ("linear char-3", new() { Scorers = LearnedScorers.Linear, Features = new LearnedFeatureSettings(CharNgrams: 3) }),
    })
    {
        var watch = Stopwatch.StartNew();
        var fit = RouterTraining.CrossFit(records, name, tiers, DatasetSplit.All, Seed, o);
        RouterTraining.Calibrate(fit, floor, null);
        var c = fit.Router.Calibration!;
        Console.WriteLine($"{label}: OOF APGR {F(fit.Router.Evidence!.Apgr)} [{F(fit.Router.Evidence.ApgrLower)}, {F(fit.Router.Evidence.ApgrUpper)}]; at floor {P(c.QualityPctOfTop)} at {P(c.CostPctOfTop)}; {watch.Elapsed.TotalSeconds:0} s");
    }

    return;
}

var variants = new (string Name, LearnedRouterTrainingOptions Options)[]
{
    ("v1 model (pass/fail label, linear)", v1),
    ("+ quality-gap target", v1 with { GainTarget = true }),
    ("+ task prior feature", v1 with { GainTarget = true, TaskPriorFeature = true }),
    ("v2 (+ scorers chosen out of fold)", new LearnedRouterTrainingOptions()),
};

Console.WriteLine();
Console.WriteLine("## Out of fold, all of the file (5 folds)");
Console.WriteLine();
Console.WriteLine("| model | scorers | OOF APGR | 95% bootstrap interval | quality / cost at the floor (OOF) | mid | time |");
Console.WriteLine("|---|---|---:|---|---|---|---:|");
RouterCrossFit? last = null;
foreach (var (label, options) in variants)
{
    var watch = Stopwatch.StartNew();
    var fit = RouterTraining.CrossFit(records, name, tiers, DatasetSplit.All, Seed, options);
    var calibration = RouterTraining.Calibrate(fit, floor, null);
    var evidence = fit.Router.Evidence!;
    var point = options.GainTarget
        ? $"{P(calibration.QualityPctOfTop)} at {P(calibration.CostPctOfTop)} | {(fit.Router.MidDropped ? "dropped" : P(calibration.TierShares[1]))}"
        : V1Thresholds(fit.Records, fit.OutOfFold, fit.Records, fit.OutOfFold);
    Console.WriteLine($"| {label} | {LearnedRouter.ScorerNames(fit.Scorers)} | {F(evidence.Apgr)} | {F(evidence.ApgrLower)}–{F(evidence.ApgrUpper)} | {point} | {watch.Elapsed.TotalSeconds:0} s |");
    last = fit;
}

Console.WriteLine();
Console.WriteLine("v2 scorer combinations, out-of-fold APGR: " + string.Join(", ", last!.ScorerApgr.Select(p => $"{p.Key} {F(p.Value)}")));
Console.WriteLine("v2 calibration: " + last.Router.Calibration!.MidDropped);
var (before, after) = (RouterTraining.CrossFit(records, name, tiers, DatasetSplit.All, Seed, v1).OutOfFold, last.OutOfFold);
Console.WriteLine("paired bootstrap of the APGR difference (v2 − v1), out of fold: " + PairedDifference(last.Records, before, after));

// Held out: v1's procedure against v2's, both on the test split.
Console.WriteLine();
Console.WriteLine("## Held out (test split, seed 42)");
Console.WriteLine();
var v1Router = RouterTraining.Train(records, name, tiers, DatasetSplit.Train, Seed, v1);
var calibrationPrompts = Complete(records.Where(r => DatasetSplitter.Assign(r.Id, Seed) == DatasetSplit.Calibration)).ToList();
var testPrompts = Complete(records.Where(r => DatasetSplitter.Assign(r.Id, Seed) == DatasetSplit.Test)).ToList();
Console.WriteLine("v1's procedure (its two thresholds on P(tier matches top), picked on the calibration split), on test: "
    + V1Thresholds(calibrationPrompts, [.. calibrationPrompts.Select(r => v1Router.Score(r.Prompt, r.Task))], testPrompts, [.. testPrompts.Select(r => v1Router.Score(r.Prompt, r.Task))]));
Console.WriteLine();
var v2Fit = RouterTraining.CrossFit(records, name, tiers, DatasetSplit.Development, Seed);
RouterTraining.Calibrate(v2Fit, floor, null);
Console.WriteLine("| procedure | % of top quality | % of top cost | calls cheap / mid / top | APGR | 95% interval | random at that cost |");
Console.WriteLine("|---|---:|---:|---|---:|---|---:|");
foreach (var (label, router) in new[] { ("v1 model, ranking only (its tier choice is the line above)", v1Router), ("v2: cross-fit 80%, calibrate out of fold", v2Fit.Router) })
{
    var report = OfflineEvaluator.Evaluate(records, name, tiers, new OfflineEvaluationOptions { Split = DatasetSplit.Test, Seed = Seed, Router = router });
    var learned = report.Policies.Single(p => p.Name == "learned");
    var random = report.Policies.Single(p => p.Name == "random");
    var shares = string.Join(" / ", new[] { tiers.Cheap, tiers.Mid ?? tiers.Top, tiers.Top }.Distinct().Select(m => P(learned.ShareByModel.GetValueOrDefault(m))));
    Console.WriteLine($"| {label} | {P(learned.QualityPctOfTop)} | {P(learned.CostPctOfTop)} | {shares} | {F(learned.Apgr!.Value)} | {F(learned.ApgrInterval!.Lower)}–{F(learned.ApgrInterval.Upper)} | {P(random.QualityPctOfTop)} |");
}

// The verified cascade on the tasks whose quality is a verifier outcome (MBPP: unit tests).
var verified = VerifiedDataset.FromCorrectness(records, VerifiedDataset.TestedTasks);
if (verified.Count > 0)
{
    Console.WriteLine();
    Console.WriteLine($"## Verified cascade ({string.Join(", ", VerifiedDataset.TestedTasks)}: {verified.Count} prompts, split all)");
    Console.WriteLine();
    var report = OfflineEvaluator.Evaluate(verified, name + " (verified)", tiers, new OfflineEvaluationOptions { Split = DatasetSplit.All, Seed = Seed });
    Console.WriteLine("| policy | % of top quality | % of top cost |");
    Console.WriteLine("|---|---:|---:|");
    foreach (var p in report.Policies.Where(p => p.Name is "always-cheap" or "always-mid" or "always-top" or "rules" or "cascade-verified" or "oracle"))
    {
        Console.WriteLine($"| {p.Name} | {P(p.QualityPctOfTop)} | {P(p.CostPctOfTop)} |");
    }
}

// v1's calibration, reproduced: two thresholds on P(cheap matches top) and P(mid matches top) (1 − the v1 label's
// prediction), 200 quantiles each, the cheapest pair whose margin q_routed − floor · q_top has a 95% lower confidence
// bound ≥ 0 on the calibration prompts; reported on the report prompts.
string V1Thresholds(IReadOnlyList<DatasetRecord> calibrate, IReadOnlyList<LearnedScore> calibrateScores, IReadOnlyList<DatasetRecord> report, IReadOnlyList<LearnedScore> reportScores)
{
    static double Ok(double gain) => (1 - gain) / 2;
    double[] Quantiles(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        var set = new SortedSet<double> { 1.5 };
        for (var q = 0; q <= 200; q++)
        {
            set.Add(sorted[(int)Math.Round(q / 200.0 * (sorted.Length - 1))]);
        }

        return [.. set];
    }

    int Tier(LearnedScore s, double tc, double tm) => Ok(s.CheapGain) >= tc ? 0 : tiers.Mid is not null && Ok(s.MidGain) >= tm ? 1 : 2;
    string[] models = [tiers.Cheap, tiers.Mid ?? tiers.Top, tiers.Top];
    (decimal Cost, double Quality, int[] Counts) Run(IReadOnlyList<DatasetRecord> prompts, IReadOnlyList<LearnedScore> scores, double tc, double tm)
    {
        var cost = 0m;
        var quality = 0.0;
        var counts = new int[3];
        for (var i = 0; i < prompts.Count; i++)
        {
            var t = Tier(scores[i], tc, tm);
            counts[t]++;
            cost += prompts[i].Candidates[models[t]].CostUsd;
            quality += prompts[i].Candidates[models[t]].Quality;
        }

        return (cost, quality, counts);
    }

    (double, double, decimal)? best = null;
    foreach (var tc in Quantiles(calibrateScores.Select(s => Ok(s.CheapGain))))
    {
        foreach (var tm in tiers.Mid is null ? [1.5] : Quantiles(calibrateScores.Select(s => Ok(s.MidGain))))
        {
            double sum = 0, squares = 0;
            var cost = 0m;
            for (var i = 0; i < calibrate.Count; i++)
            {
                var t = Tier(calibrateScores[i], tc, tm);
                var d = calibrate[i].Candidates[models[t]].Quality - (floor * calibrate[i].Candidates[tiers.Top].Quality);
                sum += d;
                squares += d * d;
                cost += calibrate[i].Candidates[models[t]].CostUsd;
            }

            var n = calibrate.Count;
            var mean = sum / n;
            var lower = mean - (1.6448536 * Math.Sqrt(Math.Max(0, (squares - (n * mean * mean)) / (n - 1)) / n));
            if (lower >= -1e-9 && (best is not { } b || cost < b.Item3))
            {
                best = (tc, tm, cost);
            }
        }
    }

    var (bc, bm, _) = best ?? (1.5, 1.5, 0m);
    var (c, q, counts) = Run(report, reportScores, bc, bm);
    var topCost = report.Sum(r => r.Candidates[tiers.Top].CostUsd);
    var topQuality = report.Sum(r => r.Candidates[tiers.Top].Quality);
    return $"{P(q / topQuality)} at {P((double)(c / topCost))} | {P(counts[1] / (double)report.Count)}";
}

IEnumerable<DatasetRecord> Complete(IEnumerable<DatasetRecord> source) =>
    source.Where(r => r.Candidates.ContainsKey(tiers.Cheap) && r.Candidates.ContainsKey(tiers.Top) && (tiers.Mid is null || r.Candidates.ContainsKey(tiers.Mid)));

static string F(double x) => x.ToString("0.000", CultureInfo.InvariantCulture);

static string P(double x) => (100 * x).ToString("0.0", CultureInfo.InvariantCulture) + "%";

// The difference of two rankings' APGR on the same prompts, with a paired percentile bootstrap (same draws for both).
string PairedDifference(IReadOnlyList<DatasetRecord> prompts, IReadOnlyList<LearnedScore> a, IReadOnlyList<LearnedScore> b)
{
    var weak = prompts.Select(r => r.Candidates[tiers.Cheap].Quality).ToArray();
    var strong = prompts.Select(r => r.Candidates[tiers.Top].Quality).ToArray();
    var sa = a.Select(s => s.CheapGain).ToArray();
    var sb = b.Select(s => s.CheapGain).ToArray();
    var point = RouterMetrics.Compute(sb, weak, strong).Apgr!.Value - RouterMetrics.Compute(sa, weak, strong).Apgr!.Value;
    var random = new Random(Seed);
    var diffs = new List<double>();
    for (var r = 0; r < 1000; r++)
    {
        var draw = Enumerable.Range(0, weak.Length).Select(_ => random.Next(weak.Length)).ToArray();
        var w = draw.Select(i => weak[i]).ToArray();
        var s = draw.Select(i => strong[i]).ToArray();
        if (RouterMetrics.Compute(draw.Select(i => sb[i]).ToArray(), w, s).Apgr is { } x && RouterMetrics.Compute(draw.Select(i => sa[i]).ToArray(), w, s).Apgr is { } y)
        {
            diffs.Add(x - y);
        }
    }

    diffs.Sort();
    return $"{point:+0.000;-0.000} (95% interval {diffs[(int)(0.025 * (diffs.Count - 1))]:+0.000;-0.000} to {diffs[(int)(0.975 * (diffs.Count - 1))]:+0.000;-0.000})";
}
