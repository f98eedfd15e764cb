using System.Globalization;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Evaluation;

/// <summary>
/// Replays routing policies over a routing dataset (real prompts with each model's recorded quality and cost) and
/// reports what each would have cost and kept: always-cheap / mid / top, random at matched cost, the rules, per-task
/// pins learned from the train split, the learned router (with a bootstrap interval of its APGR against random), a
/// meta-router and a cascade when the data records classifications or confidences, a verified cascade when it records
/// the cheap answers' verifier outcomes, and the oracle. Pure and deterministic.
/// </summary>
internal static class OfflineEvaluator
{
    /// <summary>Evaluates the policies on the options' split of <paramref name="records"/>.</summary>
    /// <param name="records">The whole dataset (pins are learned from its train split).</param>
    /// <param name="datasetName">The dataset's file name, for the report.</param>
    /// <param name="tiers">The cheap / mid / top models.</param>
    /// <param name="options">Split, seed, router, quality floor.</param>
    /// <param name="progress">Called with a fraction done as policies are replayed.</param>
    /// <exception cref="InvalidOperationException">No prompt of the split has every tier's model, or the router saw this data.</exception>
    public static EvaluationReport Evaluate(IReadOnlyList<DatasetRecord> records, string datasetName, EvaluationTiers tiers, OfflineEvaluationOptions options, Action<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(tiers);
        ArgumentNullException.ThrowIfNull(options);
        var notes = new List<string>();
        var router = options.Router;
        if (router?.Training is { } training && RouterTraining.Saw(training, datasetName, options.Split, options.Seed))
        {
            throw new InvalidOperationException(training.Split is "all"
                ? $"The router was trained on all of {training.Dataset} (seed {training.Seed}); it saw every prompt of it, so evaluate it on other data (its out-of-fold figures are in its evidence: modelmix train prints them)."
                : $"The router was trained on {training.Dataset} (split {training.Split}, seed {training.Seed}); evaluate it on the same file only with --split test --seed {training.Seed}, so no number comes from data it saw.");
        }

        if (router?.Calibration is { } calibrated && !string.Equals(calibrated.Scores, RouterTraining.OutOfFold, StringComparison.Ordinal)
            && Enum.TryParse<DatasetSplit>(calibrated.Split, ignoreCase: true, out var calibratedSplit)
            && string.Equals(calibrated.Dataset, datasetName, StringComparison.OrdinalIgnoreCase)
            && (calibrated.Seed != options.Seed || DatasetSplitter.Overlap(calibratedSplit, options.Split)))
        {
            throw new InvalidOperationException(
                $"The router was calibrated on {calibrated.Dataset} (split {calibrated.Split}, seed {calibrated.Seed}); evaluate it on a split it did not see (e.g. --split test --seed {calibrated.Seed}).");
        }

        if (router is not null && (router.Tiers.Cheap != tiers.Cheap || router.Tiers.Top != tiers.Top || router.Tiers.Mid != tiers.Mid))
        {
            notes.Add($"The router was trained on tiers {router.Tiers.Cheap} / {router.Tiers.Mid ?? "-"} / {router.Tiers.Top}; evaluated here on {tiers.Cheap} / {tiers.Mid ?? "-"} / {tiers.Top}.");
        }

        var prompts = EvaluationPrompt.Select(records, tiers, options.Split, options.Seed, out var skipped);
        if (prompts.Count == 0)
        {
            throw new InvalidOperationException($"No prompt of {datasetName} (split {options.Split.ToString().ToLowerInvariant()}) has answers from every tier ({tiers.Cheap}, {tiers.Mid ?? "no mid"}, {tiers.Top}); {skipped} skipped.");
        }

        if (skipped > 0)
        {
            notes.Add($"{skipped} prompt(s) lacked a tier's model and were skipped (never guessed).");
        }

        var hasMid = tiers.Mid is not null;
        var topCost = prompts.Sum(p => p.Cost[2]);
        var topQuality = prompts.Average(p => p.Quality[2]);
        var results = new List<PolicyResult>();
        var context = new Context(prompts, tiers, topCost, topQuality);

        results.Add(context.Fixed("always-cheap", _ => 0));
        if (hasMid)
        {
            results.Add(context.Fixed("always-mid", _ => 1));
        }

        results.Add(context.Fixed("always-top", _ => 2));
        progress?.Invoke(0.2);

        // The rules ModelMix ships (or the caller's), replayed on prompt text and task label: haiku → cheap, sonnet → mid
        // (top when there is no mid), opus → top.
        var rules = options.Rules ?? DefaultRules.Create(options.PriceBook);
        var book = options.PriceBook ?? PriceBook.Default;
        var haiku = book.ResolveTier("haiku");
        var opus = book.ResolveTier("opus");
        results.Add(context.Fixed("rules", p =>
        {
            var request = RoutingRequest.ForPrompt(p.Record.Prompt, p.Record.Task);
            var model = rules.TryDecide(in request, out var decision) ? decision.Model : book.ResolveTier("sonnet");
            return model == haiku ? 0 : model == opus ? 2 : hasMid ? 1 : 2;
        }) with { Note = hasMid ? "default rules: haiku → cheap, sonnet → mid, opus → top" : "default rules: haiku → cheap, sonnet and opus → top" });

        // Per-task pins learned from the train split: the cheapest tier whose mean quality on the task reaches the floor.
        PolicyResult? pins = null;
        if (options.Split is DatasetSplit.All or DatasetSplit.Train or DatasetSplit.Development)
        {
            notes.Add("Per-task pins are learned from the train split, so they are reported only on the calibration or test split.");
        }
        else
        {
            var train = EvaluationPrompt.Select(records, tiers, DatasetSplit.Train, options.Seed, out _);
            var (pinOf, gainOf) = LearnPins(train, hasMid, options.QualityFloor);
            pins = context.Fixed("pins", p => pinOf(p.Record.Task)) with
            {
                Note = string.Create(CultureInfo.InvariantCulture, $"per-task pins learned on the train split at a {options.QualityFloor:P0} floor; unknown tasks → top"),
            };
            pins = context.WithSweep(pins, [.. prompts.Select(p => gainOf(p.Record.Task))], options.Resamples, options.Seed);
            results.Add(pins);
        }

        progress?.Invoke(0.4);
        PolicyResult? learned = null;
        if (router is not null)
        {
            var scores = prompts.Select(p => router.Score(p.Record.Prompt, p.Record.Task)).ToArray();
            var index = 0;
            learned = context.Fixed("learned", _ => (int)router.Choose(scores[index++])) with
            {
                Note = string.Create(CultureInfo.InvariantCulture, $"scorers {LearnedRouter.ScorerNames(router.Scorers)}, price of quality λ {router.PriceOfQuality:0.####}, ")
                    + (router.Calibration is { } c ? $"calibrated on {c.Dataset} ({c.Split}, {c.Scores} scores)" : "not calibrated")
                    + (router.MidDropped ? $"; middle tier {router.Tiers.Mid} dropped" : string.Empty),
            };
            learned = context.WithSweep(learned, [.. scores.Select(s => s.CheapGain)], options.Resamples, options.Seed);
            results.Add(learned);
            if (router.MidDropped)
            {
                notes.Add($"The learned router does not use its middle tier {router.Tiers.Mid}: it never pays for its price. {router.Calibration?.MidDropped ?? "Calibration dropped it."}");
            }

            if (learned.ApgrInterval is { } interval)
            {
                notes.Add(string.Create(CultureInfo.InvariantCulture,
                    $"learned vs random: APGR {interval.Apgr:0.000} ({interval.Confidence * 100:0}% bootstrap interval {interval.Lower:0.000}–{interval.Upper:0.000}, {interval.Resamples} resamples) ")
                    + (interval.BeatsRandom ? "beats random routing (0.5) on this data." : "does not beat random routing (0.5) on this data: the interval reaches 0.5."));
            }

            if (!prompts.All(x => string.Equals(x.Record.Source, RouterTraining.ShadowSource, StringComparison.OrdinalIgnoreCase)))
            {
                notes.Add("This data is not shadow pairs of your traffic: it measures the router on these prompts, not on your requests (the proxy serves auto-learned only with in-domain evidence; docs/evaluation.md).");
            }
        }
        else
        {
            notes.Add("No --router given: the learned router is not evaluated.");
        }

        progress?.Invoke(0.7);

        // Random cheap/top mix at the cost of the learned router (or the pins, or the rules): its expected figures.
        var target = learned ?? pins ?? results.Single(r => r.Name == "rules");
        var cheapCost = prompts.Sum(p => p.Cost[0]);
        var p = topCost == cheapCost ? 0 : Math.Clamp((double)((target.CostUsd - cheapCost) / (topCost - cheapCost)), 0, 1);
        results.Add(context.Random(p, target.Name));

        // Meta-router and cascade, only from what the data recorded.
        if (prompts.Any(x => x.Record.Classification is not null))
        {
            results.Add(context.Fixed("meta-router", x => TierOf(x.Record.Classification, tiers)) with { Note = "the classifications recorded in the data" });
        }
        else
        {
            notes.Add("The dataset records no meta-router classifications: the meta-router is not replayed.");
        }

        if (prompts.All(x => x.Record.Confidence is not null))
        {
            results.Add(context.Cascade(options.CascadeThreshold));
        }
        else
        {
            notes.Add("The dataset records no cheap-model confidences: the cascade is not replayed.");
        }

        var verified = prompts.Count(x => x.CheapVerified is not null);
        if (verified == prompts.Count)
        {
            results.Add(context.VerifiedCascade(options.VerifierThreshold));
        }
        else if (verified > 0)
        {
            notes.Add($"Only {verified} of {prompts.Count} prompts record a verifier outcome for {tiers.Cheap}: the verified cascade is not replayed (build a dataset of the verifiable tasks only: modelmix dataset verified).");
        }
        else
        {
            notes.Add($"The dataset records no verifier outcomes for {tiers.Cheap}'s answers: the verified cascade is not replayed.");
        }

        var oracle = context.Fixed("oracle", x => x.OracleTier(hasMid)) with { Note = "the cheapest tier whose answer matches the top tier's on each prompt (an upper bound, not a policy)" };
        results.Add(context.WithSweep(oracle, [.. prompts.Select(x => x.Quality[2] - x.Quality[0])], 0, options.Seed));
        progress?.Invoke(1);
        return new EvaluationReport
        {
            Dataset = datasetName,
            Split = options.Split,
            Seed = options.Seed,
            Tiers = tiers,
            N = prompts.Count,
            Skipped = skipped,
            Policies = results,
            Notes = notes,
        };
    }

    /// <summary>Learns per-task pins: for each task, the cheapest tier whose mean quality reaches floor × the top's.</summary>
    internal static (Func<string?, int> Pin, Func<string?, double> Gain) LearnPins(List<EvaluationPrompt> train, bool hasMid, double floor)
    {
        var pins = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var gains = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        foreach (var group in train.GroupBy(p => p.Record.Task ?? string.Empty))
        {
            var top = group.Average(p => p.Quality[2]);
            var cheap = group.Average(p => p.Quality[0]);
            var mid = group.Average(p => p.Quality[1]);
            pins[group.Key] = cheap >= floor * top ? 0 : hasMid && mid >= floor * top ? 1 : 2;
            gains[group.Key] = top - cheap;
        }

        return (task => pins.GetValueOrDefault(task ?? string.Empty, 2), task => gains.GetValueOrDefault(task ?? string.Empty, double.MaxValue));
    }

    private static int TierOf(string? classification, EvaluationTiers tiers) => classification?.ToLowerInvariant() switch
    {
        "cheap" or "haiku" => 0,
        "mid" or "sonnet" => tiers.Mid is null ? 2 : 1,
        null => 2,
        var c when string.Equals(c, tiers.Cheap, StringComparison.OrdinalIgnoreCase) => 0,
        var c when tiers.Mid is not null && string.Equals(c, tiers.Mid, StringComparison.OrdinalIgnoreCase) => 1,
        _ => 2,
    };

    private sealed class Context(List<EvaluationPrompt> prompts, EvaluationTiers tiers, decimal topCost, double topQuality)
    {
        public PolicyResult Fixed(string name, Func<EvaluationPrompt, int> choose)
        {
            var cost = 0m;
            var quality = 0.0;
            var counts = new int[3];
            foreach (var p in prompts)
            {
                var tier = choose(p);
                counts[tier]++;
                cost += p.Cost[tier];
                quality += p.Quality[tier];
            }

            return Result(name, cost, quality / prompts.Count, Shares(counts.Select(c => (double)c).ToArray()));
        }

        public PolicyResult Random(double topShare, string matched)
        {
            var cheapCost = prompts.Sum(p => p.Cost[0]);
            var cost = cheapCost + ((topCost - cheapCost) * (decimal)topShare);
            var quality = ((1 - topShare) * prompts.Average(p => p.Quality[0])) + (topShare * topQuality);
            var curve = RouterMetrics.FromPoints([(0, prompts.Average(p => p.Quality[0])), (1, topQuality)], prompts.Average(p => p.Quality[0]), topQuality);
            return Result("random", cost, quality, Shares([1 - topShare, 0, topShare])) with
            {
                Apgr = curve.Apgr,
                Cpt50 = curve.Cpt50,
                Cpt80 = curve.Cpt80,
                Note = string.Create(CultureInfo.InvariantCulture, $"cheap/top mix at the cost of '{matched}' ({topShare:P1} to top); expected values, no sampling"),
                Curve = [(FractionOf(cheapCost), prompts.Average(p => p.Quality[0]) / topQuality), (1, 1)],
            };
        }

        public PolicyResult Cascade(double threshold)
        {
            var cost = 0m;
            var quality = 0.0;
            var counts = new double[3];
            foreach (var p in prompts)
            {
                counts[0]++;
                cost += p.Cost[0];
                if (p.Record.Confidence < threshold)
                {
                    counts[2]++;
                    cost += p.Cost[2];
                    quality += p.Quality[2];
                }
                else
                {
                    quality += p.Quality[0];
                }
            }

            return Result("cascade", cost, quality / prompts.Count, Shares(counts)) with
            {
                Note = string.Create(CultureInfo.InvariantCulture, $"cheap first, escalated to top when the recorded confidence < {threshold}; both calls paid"),
            };
        }

        public PolicyResult VerifiedCascade(double threshold)
        {
            var cost = 0m;
            var quality = 0.0;
            var counts = new double[3];
            var escalated = 0;
            foreach (var p in prompts)
            {
                counts[0]++;
                cost += p.Cost[0] + p.CheapVerifierCost;
                if (p.CheapVerified < threshold)
                {
                    escalated++;
                    counts[2]++;
                    cost += p.Cost[2];
                    quality += p.Quality[2];
                }
                else
                {
                    quality += p.Quality[0];
                }
            }

            return Result("cascade-verified", cost, quality / prompts.Count, Shares(counts)) with
            {
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"{tiers.Cheap} first; its answer kept when the recorded verifier outcome ≥ {threshold}, else {tiers.Top} called ({escalated} of {prompts.Count} escalated, {100.0 * escalated / prompts.Count:0.0}%); both calls and any recorded verifier cost paid"),
            };
        }

        /// <summary>Adds RouteLLM's sweep metrics (cheap vs top, ranked by <paramref name="strongScores"/>), a bootstrap interval of the APGR when <paramref name="resamples"/> &gt; 0, and the chart curve.</summary>
        public PolicyResult WithSweep(PolicyResult result, double[] strongScores, int resamples, int seed)
        {
            var weak = prompts.Select(p => p.Quality[0]).ToArray();
            var strong = prompts.Select(p => p.Quality[2]).ToArray();
            var curve = RouterMetrics.Compute(strongScores, weak, strong);
            var interval = resamples >= 10 ? RouterMetrics.Bootstrap(strongScores, weak, strong, resamples, seed: seed) : null;

            // The same sweep in cost terms for the chart.
            var order = Enumerable.Range(0, prompts.Count).OrderByDescending(i => strongScores[i]).ThenBy(i => i).ToArray();
            var cost = prompts.Sum(p => p.Cost[0]);
            var quality = prompts.Sum(p => p.Quality[0]);
            var points = new List<(double, double)> { (FractionOf(cost), quality / prompts.Count / topQuality) };
            for (var k = 0; k < order.Length; k++)
            {
                var p = prompts[order[k]];
                cost += p.Cost[2] - p.Cost[0];
                quality += p.Quality[2] - p.Quality[0];
                if (k == order.Length - 1 || strongScores[order[k + 1]] != strongScores[order[k]])
                {
                    points.Add((FractionOf(cost), quality / prompts.Count / topQuality));
                }
            }

            return result with { Apgr = curve.Apgr, ApgrInterval = interval, Cpt50 = curve.Cpt50, Cpt80 = curve.Cpt80, Curve = points };
        }

        private double FractionOf(decimal cost) => topCost == 0 ? 0 : (double)(cost / topCost);

        private Dictionary<string, double> Shares(double[] counts)
        {
            var total = counts.Sum();
            var shares = new Dictionary<string, double>(StringComparer.Ordinal) { [tiers.Cheap] = counts[0] / total };
            if (tiers.Mid is not null)
            {
                shares[tiers.Mid] = counts[1] / total;
            }

            shares[tiers.Top] = counts[2] / total;
            return shares;
        }

        private PolicyResult Result(string name, decimal cost, double quality, Dictionary<string, double> shares) => new()
        {
            Name = name,
            CostUsd = cost,
            Quality = quality,
            QualityPctOfTop = topQuality == 0 ? 0 : quality / topQuality,
            CostPctOfTop = FractionOf(cost),
            ShareByModel = shares,
            AccuracyPerDollar = cost == 0 ? 0 : quality * prompts.Count / (double)cost,
        };
    }
}
