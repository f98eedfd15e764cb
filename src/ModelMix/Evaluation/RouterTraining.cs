using ModelMix.Routing;

namespace ModelMix.Evaluation;

/// <summary>
/// Trains and calibrates a <see cref="LearnedRouter"/> from a routing dataset: the label of a prompt is whether the
/// cheap (mid) tier's quality reaches the top tier's. Training uses one split, calibration another.
/// </summary>
public static class RouterTraining
{
    /// <summary>Trains on <paramref name="split"/> of the records.</summary>
    /// <param name="records">The dataset.</param>
    /// <param name="datasetName">Its file name (recorded in the router, so eval refuses to report on the same data).</param>
    /// <param name="tiers">The tiers.</param>
    /// <param name="split">The split to train on (train, normally).</param>
    /// <param name="seed">The split seed.</param>
    /// <param name="options">Training settings.</param>
    /// <exception cref="InvalidOperationException">No prompt of the split has every tier's model.</exception>
    public static LearnedRouter Train(IReadOnlyList<DatasetRecord> records, string datasetName, EvaluationTiers tiers, DatasetSplit split, int seed, LearnedRouterTrainingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tiers);
        options ??= new LearnedRouterTrainingOptions();
        var prompts = EvaluationPrompt.Select(records, tiers, split, seed, out var skipped);
        if (prompts.Count == 0)
        {
            throw new InvalidOperationException($"No prompt of {datasetName} (split {Name(split)}) has answers from every tier; {skipped} skipped.");
        }

        var examples = prompts.Select(p => new LearnedRouterExample(p.Record.Prompt, p.Record.Task, p.Quality[0] >= p.Quality[2], p.Quality[1] >= p.Quality[2])).ToList();
        var trained = LearnedRouterTrainer.Train(examples, new LearnedRouterTiers(tiers.Cheap, tiers.Mid, tiers.Top), options);
        return new LearnedRouter(trained.Features, trained.Tiers, trained.Cheap, trained.Mid)
        {
            Training = new LearnedRouterProvenance
            {
                Dataset = datasetName,
                Split = Name(split),
                Seed = seed,
                Prompts = prompts.Count,
                Skipped = skipped,
                L2 = options.L2,
                Epochs = options.Epochs,
                TrainingSeed = options.Seed,
            },
        };
    }

    /// <summary>
    /// Picks the router's thresholds on <paramref name="split"/> of the records: with a quality floor, the cheapest
    /// pair of thresholds that keeps floor × the top tier's mean quality; with a strong share, the best quality that
    /// sends at most that share of calls to the top tier. Stores them and the calibration's figures in the router.
    /// </summary>
    /// <param name="router">The router (its thresholds are set).</param>
    /// <param name="records">The dataset.</param>
    /// <param name="datasetName">Its file name.</param>
    /// <param name="split">The calibration split.</param>
    /// <param name="seed">The split seed.</param>
    /// <param name="qualityFloor">The quality floor, or null.</param>
    /// <param name="strongShare">The strong share, or null (exactly one of the two).</param>
    /// <exception cref="InvalidOperationException">No usable prompt, or the router saw this data in training.</exception>
    public static LearnedRouterCalibration Calibrate(LearnedRouter router, IReadOnlyList<DatasetRecord> records, string datasetName, DatasetSplit split, int seed, double? qualityFloor, double? strongShare)
    {
        ArgumentNullException.ThrowIfNull(router);
        if ((qualityFloor is null) == (strongShare is null))
        {
            throw new ArgumentException("Give exactly one of a quality floor and a strong share.");
        }

        if (router.Training is { } t && string.Equals(t.Dataset, datasetName, StringComparison.OrdinalIgnoreCase) && t.Seed == seed
            && (split == DatasetSplit.All || string.Equals(t.Split, Name(split), StringComparison.OrdinalIgnoreCase)))
        {
            throw new InvalidOperationException($"The router was trained on {t.Dataset} split {t.Split} (seed {t.Seed}); calibrate it on another split (e.g. --split calibration).");
        }

        var tiers = new EvaluationTiers(router.Tiers.Cheap, router.Tiers.Mid, router.Tiers.Top);
        var prompts = EvaluationPrompt.Select(records, tiers, split, seed, out var skipped);
        if (prompts.Count == 0)
        {
            throw new InvalidOperationException($"No prompt of {datasetName} (split {Name(split)}) has answers from every tier; {skipped} skipped.");
        }

        var scores = prompts.Select(p => router.Score(p.Record.Prompt, p.Record.Task)).ToArray();
        var topQuality = prompts.Sum(p => p.Quality[2]);
        var topCost = prompts.Sum(p => p.Cost[2]);
        var cheapCandidates = Candidates(scores.Select(s => s.CheapOk));
        var midCandidates = router.Mid is null ? [1.5] : Candidates(scores.Select(s => s.MidOk));
        (double Cheap, double Mid, decimal Cost, double Quality, double Top)? best = null;
        foreach (var tc in cheapCandidates)
        {
            foreach (var tm in midCandidates)
            {
                var cost = 0m;
                var quality = 0.0;
                var top = 0;
                for (var i = 0; i < prompts.Count; i++)
                {
                    var tier = (int)router.Choose(scores[i], tc, tm);
                    cost += prompts[i].Cost[tier];
                    quality += prompts[i].Quality[tier];
                    top += tier == 2 ? 1 : 0;
                }

                var share = top / (double)prompts.Count;
                var ok = qualityFloor is { } floor ? quality >= floor * topQuality - 1e-9 : share <= strongShare!.Value + 1e-12;
                if (!ok)
                {
                    continue;
                }

                var better = best is not { } b
                    || (qualityFloor is not null
                        ? cost < b.Cost || (cost == b.Cost && quality > b.Quality)
                        : quality > b.Quality || (quality == b.Quality && cost < b.Cost));
                if (better)
                {
                    best = (tc, tm, cost, quality, share);
                }
            }
        }

        var chosen = best ?? (1.5, 1.5, topCost, topQuality, 1.0);
        router.CheapThreshold = Math.Min(chosen.Cheap, 1.0);
        router.MidThreshold = Math.Min(chosen.Mid, 1.0);
        var calibration = new LearnedRouterCalibration
        {
            Dataset = datasetName,
            Split = Name(split),
            Seed = seed,
            QualityFloor = qualityFloor,
            StrongShare = strongShare,
            Prompts = prompts.Count,
            QualityPctOfTop = topQuality == 0 ? 0 : chosen.Quality / topQuality,
            CostPctOfTop = topCost == 0 ? 0 : (double)(chosen.Cost / topCost),
            Met = best is not null,
        };
        router.Calibration = calibration;
        return calibration;
    }

    private static double[] Candidates(IEnumerable<double> values)
    {
        // Up to 200 quantiles of the scores, plus "never" (above every probability; stored as 1).
        var sorted = values.Order().ToArray();
        var set = new SortedSet<double> { 1.5 };
        for (var q = 0; q <= 200; q++)
        {
            set.Add(sorted[(int)Math.Round(q / 200.0 * (sorted.Length - 1))]);
        }

        return [.. set];
    }

    internal static string Name(DatasetSplit split) => split.ToString().ToLowerInvariant();
}
