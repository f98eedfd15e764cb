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

    /// <summary>The default one-sided confidence with which a calibrated quality floor must hold.</summary>
    public const double DefaultConfidence = 0.95;

    /// <summary>
    /// Picks the router's thresholds on <paramref name="split"/> of the records: with a quality floor, the cheapest
    /// pair of thresholds whose kept quality is at least floor × the top tier's <b>with the given one-sided
    /// confidence</b> (the lower confidence bound of the mean per-prompt margin q_routed − floor · q_top, normal
    /// approximation, must be ≥ 0; <paramref name="confidence"/> 0.5 means the plain point estimate); with a strong
    /// share, the best quality that sends at most that share of calls to the top tier. Stores them and the
    /// calibration's figures in the router.
    /// </summary>
    /// <param name="router">The router (its thresholds are set).</param>
    /// <param name="records">The dataset.</param>
    /// <param name="datasetName">Its file name.</param>
    /// <param name="split">The calibration split.</param>
    /// <param name="seed">The split seed.</param>
    /// <param name="qualityFloor">The quality floor, or null.</param>
    /// <param name="strongShare">The strong share, or null (exactly one of the two).</param>
    /// <param name="confidence">The one-sided confidence the floor must hold with (0.5 to 0.999; default 0.95).</param>
    /// <exception cref="InvalidOperationException">No usable prompt, or the router saw this data in training.</exception>
    public static LearnedRouterCalibration Calibrate(LearnedRouter router, IReadOnlyList<DatasetRecord> records, string datasetName, DatasetSplit split, int seed, double? qualityFloor, double? strongShare, double confidence = DefaultConfidence)
    {
        ArgumentNullException.ThrowIfNull(router);
        if (confidence is < 0.5 or > 0.999)
        {
            throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "The confidence must be between 0.5 and 0.999.");
        }

        var z = NormalQuantile(confidence);
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
                var margin = 0.0;
                var marginSquares = 0.0;
                var f = qualityFloor ?? 0;
                for (var i = 0; i < prompts.Count; i++)
                {
                    var tier = (int)router.Choose(scores[i], tc, tm);
                    cost += prompts[i].Cost[tier];
                    quality += prompts[i].Quality[tier];
                    top += tier == 2 ? 1 : 0;
                    var d = prompts[i].Quality[tier] - (f * prompts[i].Quality[2]);
                    margin += d;
                    marginSquares += d * d;
                }

                var share = top / (double)prompts.Count;
                var ok = qualityFloor is not null ? LowerBound(margin, marginSquares, prompts.Count, z) >= -1e-9 : share <= strongShare!.Value + 1e-12;
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
            Confidence = qualityFloor is null ? null : confidence,
            StrongShare = strongShare,
            Prompts = prompts.Count,
            QualityPctOfTop = topQuality == 0 ? 0 : chosen.Quality / topQuality,
            CostPctOfTop = topCost == 0 ? 0 : (double)(chosen.Cost / topCost),
            Met = best is not null,
        };
        router.Calibration = calibration;
        return calibration;
    }

    // The lower confidence bound of the mean of n values with this sum and sum of squares (z standard errors below).
    private static double LowerBound(double sum, double squares, int n, double z)
    {
        var mean = sum / n;
        if (n < 2 || z <= 0)
        {
            return mean;
        }

        var variance = Math.Max(0, (squares - (n * mean * mean)) / (n - 1));
        return mean - (z * Math.Sqrt(variance / n));
    }

    // The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9), for p in (0.5, 1).
    internal static double NormalQuantile(double p)
    {
        if (p <= 0.5)
        {
            return 0;
        }

        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        if (p > 0.97575)
        {
            var q = Math.Sqrt(-2 * Math.Log(1 - p));
            return -(((((((c[0] * q) + c[1]) * q) + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((((d[0] * q) + d[1]) * q) + d[2]) * q + d[3]) * q + 1);
        }

        var r = p - 0.5;
        var s = r * r;
        return (((((((a[0] * s) + a[1]) * s) + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r / (((((((b[0] * s) + b[1]) * s) + b[2]) * s + b[3]) * s + b[4]) * s + 1);
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
