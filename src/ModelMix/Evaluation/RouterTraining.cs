using System.Globalization;
using ModelMix.Routing;

namespace ModelMix.Evaluation;

/// <summary>
/// Trains and calibrates a <see cref="LearnedRouter"/> from a routing dataset. The target of a prompt is the quality
/// gap between the top tier and each cheaper tier. <see cref="CrossFit"/> fits one model per fold on the other folds,
/// so every labelled prompt gets an out-of-fold score, picks the scorers on those scores, and refits on everything;
/// <see cref="Calibrate(RouterCrossFit, double?, double?, double, bool?)"/> picks the price of quality on the
/// out-of-fold scores (no data is set aside), or <see cref="Calibrate(LearnedRouter, IReadOnlyList{DatasetRecord}, string, DatasetSplit, int, double?, double?, double, bool?)"/>
/// on a split the router did not see. Both record the evidence: APGR with a bootstrap interval against random.
/// </summary>
internal static class RouterTraining
{
    /// <summary>The default one-sided confidence with which a calibrated quality floor must hold.</summary>
    public const double DefaultConfidence = 0.95;

    /// <summary>The scores of data the router was trained on, each from a fold model that did not see it.</summary>
    public const string OutOfFold = "out-of-fold";

    /// <summary>The scores of data the router was not trained on.</summary>
    public const string HeldOut = "held-out";

    /// <summary>The <c>source</c> that <c>modelmix export --shadow</c> writes: the deployment's own traffic.</summary>
    public const string ShadowSource = "shadow";

    /// <summary>The scorer combinations cross-fitting tries, simplest first (a later one must beat the earlier ones).</summary>
    public static IReadOnlyList<LearnedScorers> ScorerCandidates { get; } =
    [
        LearnedScorers.Linear,
        LearnedScorers.Linear | LearnedScorers.TaskPrior,
        LearnedScorers.Linear | LearnedScorers.Words,
        LearnedScorers.Linear | LearnedScorers.Words | LearnedScorers.TaskPrior,
    ];

    /// <summary>Trains once on <paramref name="split"/> of the records (no cross-fitting, no calibration).</summary>
    /// <param name="records">The dataset.</param>
    /// <param name="datasetName">Its file name (recorded in the router, so eval refuses to report on the same data).</param>
    /// <param name="tiers">The tiers.</param>
    /// <param name="split">The split to train on.</param>
    /// <param name="seed">The split seed.</param>
    /// <param name="options">Training settings.</param>
    /// <exception cref="InvalidOperationException">No prompt of the split has every tier's model.</exception>
    public static LearnedRouter Train(IReadOnlyList<DatasetRecord> records, string datasetName, EvaluationTiers tiers, DatasetSplit split, int seed, LearnedRouterTrainingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tiers);
        options ??= new LearnedRouterTrainingOptions();
        var prompts = Prompts(records, datasetName, tiers, split, seed, out var skipped);
        var trained = LearnedRouterTrainer.Train(Examples(prompts), RouterTiers(tiers), options);
        return trained.WithScorers(trained.Scorers, Provenance(datasetName, split, seed, prompts.Count, skipped, 0, options, null)).WithCosts(Costs(prompts, tiers));
    }

    /// <summary>
    /// Cross-fits a router on <paramref name="split"/>: the prompts fall into <see cref="LearnedRouterTrainingOptions.Folds"/>
    /// folds by a seeded hash of their ids; for each fold, a model fitted on the others (its task prior too) scores it.
    /// The scorer combination with the best out-of-fold APGR is kept (unless options fix it), and the router is refit
    /// on every prompt. Uncalibrated: pass the result to <see cref="Calibrate(RouterCrossFit, double?, double?, double, bool?)"/>.
    /// </summary>
    /// <param name="records">The dataset.</param>
    /// <param name="datasetName">Its file name.</param>
    /// <param name="tiers">The tiers.</param>
    /// <param name="split">The labelled data to use (all of it, normally).</param>
    /// <param name="seed">The split and fold seed.</param>
    /// <param name="options">Training settings.</param>
    /// <exception cref="InvalidOperationException">No prompt of the split has every tier's model.</exception>
    public static RouterCrossFit CrossFit(IReadOnlyList<DatasetRecord> records, string datasetName, EvaluationTiers tiers, DatasetSplit split, int seed, LearnedRouterTrainingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tiers);
        options ??= new LearnedRouterTrainingOptions();
        if (options.Folds is < 2 or > 20)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Folds, "Cross-fitting needs 2 to 20 folds.");
        }

        var prompts = Prompts(records, datasetName, tiers, split, seed, out var skipped);
        var examples = Examples(prompts);
        var vectors = LearnedRouterTrainer.Vectorize(examples, options);
        var routerTiers = RouterTiers(tiers);
        var hasMid = tiers.Mid is not null;
        var candidates = options.Scorers is { } fixedScorers ? [fixedScorers] : ScorerCandidates;
        var needWords = candidates.Any(c => (c & LearnedScorers.Words) != 0);
        var fold = prompts.Select(p => DatasetSplitter.Fold(p.Record.Id, seed, options.Folds)).ToArray();
        var parts = new LearnedScoreParts[prompts.Count];
        for (var f = 0; f < options.Folds; f++)
        {
            var rows = Enumerable.Range(0, prompts.Count).Where(i => fold[i] != f).ToArray();
            var held = Enumerable.Range(0, prompts.Count).Where(i => fold[i] == f).ToArray();
            if (held.Length == 0)
            {
                continue;
            }

            if (rows.Length == 0)
            {
                throw new InvalidOperationException($"Cross-fitting {prompts.Count} prompt(s) of {datasetName} in {options.Folds} folds leaves a fold with nothing to train on; use fewer folds or more data.");
            }

            var model = LearnedRouterTrainer.Fit(vectors, examples, rows, routerTiers, options, LearnedScorers.Linear, needWords);
            foreach (var i in held)
            {
                parts[i] = model.ScoreParts(prompts[i].Record.Prompt, prompts[i].Record.Task);
            }
        }

        var weak = prompts.Select(p => p.Quality[0]).ToArray();
        var strong = prompts.Select(p => p.Quality[2]).ToArray();
        var apgr = new Dictionary<string, double>(StringComparer.Ordinal);
        var chosen = candidates[0];
        var bestApgr = double.NegativeInfinity;
        foreach (var candidate in candidates)
        {
            var value = RouterMetrics.Compute([.. parts.Select(p => p.Combine(candidate, hasMid).CheapGain)], weak, strong).Apgr ?? 0;
            apgr[LearnedRouter.ScorerNames(candidate)] = value;
            if (value > bestApgr + 1e-12)
            {
                (chosen, bestApgr) = (candidate, value);
            }
        }

        var all = Enumerable.Range(0, prompts.Count).ToArray();
        var provenance = Provenance(datasetName, split, seed, prompts.Count, skipped, options.Folds, options, apgr);
        var refit = LearnedRouterTrainer.Fit(vectors, examples, all, routerTiers, options, chosen, (chosen & LearnedScorers.Words) != 0);
        var router = refit.WithScorers(chosen, provenance).WithCosts(Costs(prompts, tiers));
        return new RouterCrossFit(router, prompts, [.. parts.Select(p => p.Combine(chosen, hasMid))], chosen, apgr, datasetName, split, seed, skipped);
    }

    /// <summary>
    /// Picks the cross-fitted router's price of quality on its out-of-fold scores (every labelled prompt, none set
    /// aside) and records the evidence; see the other overload for the rules.
    /// </summary>
    /// <param name="crossFit">The cross-fit (its router is calibrated in place).</param>
    /// <param name="qualityFloor">The quality floor, or null.</param>
    /// <param name="strongShare">The strong share, or null (exactly one of the two).</param>
    /// <param name="confidence">The one-sided confidence the floor must hold with (0.5 to 0.999).</param>
    /// <param name="inDomain">Whether the data is the deployment's own traffic; null: only when every prompt is a shadow pair.</param>
    public static LearnedRouterCalibration Calibrate(RouterCrossFit crossFit, double? qualityFloor, double? strongShare, double confidence = DefaultConfidence, bool? inDomain = null)
    {
        ArgumentNullException.ThrowIfNull(crossFit);
        return CalibrateOn(crossFit.Router, crossFit.Prompts, [.. crossFit.OutOfFold], OutOfFold, crossFit.Dataset, crossFit.Split, crossFit.Seed, qualityFloor, strongShare, confidence, inDomain);
    }

    /// <summary>
    /// Picks the router's price of quality λ on <paramref name="split"/> of the records: with a quality floor, the
    /// cheapest λ whose kept quality is at least floor × the top tier's <b>with the given one-sided confidence</b> (the
    /// lower confidence bound of the mean per-prompt margin q_routed − floor · q_top, normal approximation, must be
    /// ≥ 0; <paramref name="confidence"/> 0.5 is the plain point estimate); with a strong share, the best quality that
    /// sends at most that share of calls to the top tier. The middle tier is dropped when routing without it does as
    /// well (it never pays for its price). When the router was cross-fitted on exactly this data, its out-of-fold
    /// scores are recomputed (deterministically) and used; a router that saw the data otherwise is refused. Stores λ,
    /// the figures and the evidence (APGR with a bootstrap interval, in-domain or not) in the router.
    /// </summary>
    /// <param name="router">The router (its price of quality is set).</param>
    /// <param name="records">The dataset.</param>
    /// <param name="datasetName">Its file name.</param>
    /// <param name="split">The calibration split.</param>
    /// <param name="seed">The split seed.</param>
    /// <param name="qualityFloor">The quality floor, or null.</param>
    /// <param name="strongShare">The strong share, or null (exactly one of the two).</param>
    /// <param name="confidence">The one-sided confidence the floor must hold with (0.5 to 0.999; default 0.95).</param>
    /// <param name="inDomain">Whether the data is the deployment's own traffic; null: only when every prompt is a shadow pair.</param>
    /// <exception cref="InvalidOperationException">No usable prompt, or the router saw this data in training.</exception>
    public static LearnedRouterCalibration Calibrate(LearnedRouter router, IReadOnlyList<DatasetRecord> records, string datasetName, DatasetSplit split, int seed, double? qualityFloor, double? strongShare, double confidence = DefaultConfidence, bool? inDomain = null)
    {
        ArgumentNullException.ThrowIfNull(router);
        CheckTargets(qualityFloor, strongShare, confidence);
        var tiers = new EvaluationTiers(router.Tiers.Cheap, router.Tiers.Mid, router.Tiers.Top);
        if (router.Training is { } t && Saw(t, datasetName, split, seed))
        {
            if (t.Folds < 2 || !string.Equals(t.Split, Name(split), StringComparison.OrdinalIgnoreCase) || t.Seed != seed)
            {
                throw new InvalidOperationException(t.Folds < 2
                    ? $"The router was trained on {t.Dataset} split {t.Split} (seed {t.Seed}); calibrate it on another split (e.g. --split calibration)."
                    : $"The router was cross-fitted on {t.Dataset} split {t.Split} (seed {t.Seed}); calibrate it on exactly that split and seed (its out-of-fold scores) or on other data.");
            }

            var crossFit = CrossFit(records, datasetName, tiers, split, seed, OptionsOf(router));
            return CalibrateOn(router, crossFit.Prompts, [.. crossFit.OutOfFold], OutOfFold, datasetName, split, seed, qualityFloor, strongShare, confidence, inDomain);
        }

        var prompts = Prompts(records, datasetName, tiers, split, seed, out _);
        var scores = prompts.Select(p => router.Score(p.Record.Prompt, p.Record.Task)).ToArray();
        return CalibrateOn(router, prompts, scores, HeldOut, datasetName, split, seed, qualityFloor, strongShare, confidence, inDomain);
    }

    /// <summary>Whether a router trained as <paramref name="training"/> saw prompts of <paramref name="split"/> of <paramref name="dataset"/>.</summary>
    internal static bool Saw(LearnedRouterProvenance training, string dataset, DatasetSplit split, int seed)
    {
        if (!string.Equals(training.Dataset, dataset, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // Another seed reshuffles the splits: any part may hold prompts trained on.
        return training.Seed != seed || !Enum.TryParse<DatasetSplit>(training.Split, ignoreCase: true, out var trained) || DatasetSplitter.Overlap(trained, split);
    }

    private static LearnedRouterCalibration CalibrateOn(LearnedRouter router, List<EvaluationPrompt> prompts, LearnedScore[] scores, string kind, string datasetName, DatasetSplit split, int seed, double? qualityFloor, double? strongShare, double confidence, bool? inDomain)
    {
        CheckTargets(qualityFloor, strongShare, confidence);
        var z = NormalQuantile(confidence);
        var topQuality = prompts.Sum(p => p.Quality[2]);
        var topCost = prompts.Sum(p => p.Cost[2]);
        var prices = PriceCandidates(router, scores);
        var with = router.Mid is null ? null : Search(router, prompts, scores, prices, useMid: true, qualityFloor, strongShare, z);
        var without = Search(router, prompts, scores, prices, useMid: false, qualityFloor, strongShare, z);
        var dropMid = with is not null && (qualityFloor is not null
            ? without is not null && (with is not { } w || without.Value.Cost <= w.Cost)
            : without is not null && (with is not { } w2 || without.Value.Quality >= w2.Quality));
        var chosen = router.Mid is null || dropMid ? without : with;
        string? midNote = null;
        if (router.Mid is not null && dropMid)
        {
            var lead = string.Create(CultureInfo.InvariantCulture, $"{router.Tiers.Mid} (at {router.TierCosts.Mid * 100:0}% of the top's cost) never pays for its price on these {prompts.Count} prompts ({kind} scores): ");
            midNote = qualityFloor is not null
                ? lead + string.Create(CultureInfo.InvariantCulture, $"without it the floor holds at {Fraction(without!.Value.Cost, topCost) * 100:0.0}% of the top's cost, with it ")
                    + (with is { } w3 ? string.Create(CultureInfo.InvariantCulture, $"at {Fraction(w3.Cost, topCost) * 100:0.0}%") : "not at all")
                : lead + string.Create(CultureInfo.InvariantCulture, $"without it the share keeps {Fraction(without!.Value.Quality, topQuality) * 100:0.0}% of the top's quality, with it ")
                    + (with is { } w4 ? string.Create(CultureInfo.InvariantCulture, $"{Fraction(w4.Quality, topQuality) * 100:0.0}%") : "less");
        }

        var met = chosen is not null;
        var useMid = router.Mid is not null && !dropMid;
        var point = chosen ?? Route(router, prompts, scores, 0, useMid, qualityFloor ?? 0, z);
        router.PriceOfQuality = point.Price;
        router.MidDropped = router.Mid is not null && dropMid;
        var calibration = new LearnedRouterCalibration
        {
            Dataset = datasetName,
            Split = Name(split),
            Seed = seed,
            Scores = kind,
            QualityFloor = qualityFloor,
            Confidence = qualityFloor is null ? null : confidence,
            StrongShare = strongShare,
            Prompts = prompts.Count,
            QualityPctOfTop = topQuality == 0 ? 0 : point.Quality / topQuality,
            CostPctOfTop = Fraction(point.Cost, topCost),
            TierShares = [.. point.Shares],
            Met = met,
            MidDropped = midNote,
        };
        router.Calibration = calibration;
        router.Evidence = Evidence(prompts, scores, kind, datasetName, split, seed, inDomain);
        return calibration;
    }

    /// <summary>The evidence of scores on prompts: APGR of the cheap-vs-top ranking with a 95% bootstrap interval.</summary>
    internal static LearnedRouterEvidence Evidence(List<EvaluationPrompt> prompts, LearnedScore[] scores, string kind, string datasetName, DatasetSplit split, int seed, bool? inDomain)
    {
        var interval = RouterMetrics.Bootstrap([.. scores.Select(s => s.CheapGain)], [.. prompts.Select(p => p.Quality[0])], [.. prompts.Select(p => p.Quality[2])], seed: seed);
        var sources = prompts.Select(p => p.Record.Source ?? "(none)").Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal).ToList();
        var shadow = sources.Count == 1 && string.Equals(sources[0], ShadowSource, StringComparison.OrdinalIgnoreCase);
        var domain = inDomain switch
        {
            true => "declared in-domain (--in-domain)",
            false => "declared not in-domain",
            null when shadow => "shadow pairs of this deployment (modelmix export --shadow)",
            _ => $"{datasetName} is not shadow pairs (source {string.Join(", ", sources.Take(3))})",
        };
        return new LearnedRouterEvidence
        {
            Dataset = datasetName,
            Split = Name(split),
            Seed = seed,
            Prompts = prompts.Count,
            Scores = kind,
            InDomain = inDomain ?? shadow,
            Domain = domain,
            Apgr = interval?.Apgr ?? 0.5,
            ApgrLower = interval?.Lower ?? 0.5,
            ApgrUpper = interval?.Upper ?? 0.5,
            Confidence = interval?.Confidence ?? 0.95,
            Resamples = interval?.Resamples ?? 0,
        };
    }

    private readonly record struct Point(double Price, decimal Cost, double Quality, double TopShare, double[] Shares, double Margin);

    private static Point? Search(LearnedRouter router, List<EvaluationPrompt> prompts, LearnedScore[] scores, double[] prices, bool useMid, double? qualityFloor, double? strongShare, double z)
    {
        Point? best = null;
        foreach (var price in prices)
        {
            var point = Route(router, prompts, scores, price, useMid, qualityFloor ?? 0, z);
            var ok = qualityFloor is not null ? point.Margin >= -1e-9 : point.TopShare <= strongShare!.Value + 1e-12;
            if (!ok)
            {
                continue;
            }

            var better = best is not { } b
                || (qualityFloor is not null
                    ? point.Cost < b.Cost || (point.Cost == b.Cost && point.Quality > b.Quality)
                    : point.Quality > b.Quality || (point.Quality == b.Quality && point.Cost < b.Cost));
            if (better)
            {
                best = point;
            }
        }

        return best;
    }

    private static Point Route(LearnedRouter router, List<EvaluationPrompt> prompts, LearnedScore[] scores, double price, bool useMid, double floor, double z)
    {
        var cost = 0m;
        var quality = 0.0;
        var counts = new int[3];
        var margin = 0.0;
        var marginSquares = 0.0;
        for (var i = 0; i < prompts.Count; i++)
        {
            var tier = (int)router.Choose(scores[i], price, useMid);
            counts[tier]++;
            cost += prompts[i].Cost[tier];
            quality += prompts[i].Quality[tier];
            var d = prompts[i].Quality[tier] - (floor * prompts[i].Quality[2]);
            margin += d;
            marginSquares += d * d;
        }

        var n = (double)prompts.Count;
        return new Point(price, cost, quality, counts[2] / n, [counts[0] / n, counts[1] / n, counts[2] / n], LowerBound(margin, marginSquares, prompts.Count, z));
    }

    // Every λ at which some prompt's choice changes (cheap vs top, mid vs top, cheap vs mid), thinned to 400 quantiles,
    // plus 0 and a price no gap pays (everything cheap).
    private static double[] PriceCandidates(LearnedRouter router, LearnedScore[] scores)
    {
        var costs = router.TierCosts;
        var breaks = new List<double>(scores.Length * 3);
        foreach (var s in scores)
        {
            breaks.Add(s.CheapGain / Math.Max(1e-9, 1 - costs.Cheap));
            if (router.Mid is not null)
            {
                breaks.Add(s.MidGain / Math.Max(1e-9, 1 - costs.Mid));
                if (costs.Mid > costs.Cheap)
                {
                    breaks.Add((s.CheapGain - s.MidGain) / (costs.Mid - costs.Cheap));
                }
            }
        }

        var sorted = breaks.Where(b => double.IsFinite(b) && b >= 0).Order().ToArray();
        var set = new SortedSet<double> { 0, 1e6 };
        if (sorted.Length > 0)
        {
            for (var q = 0; q <= 400; q++)
            {
                set.Add(sorted[(int)Math.Round(q / 400.0 * (sorted.Length - 1))]);
            }
        }

        return [.. set];
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

    private static void CheckTargets(double? qualityFloor, double? strongShare, double confidence)
    {
        if (confidence is < 0.5 or > 0.999)
        {
            throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "The confidence must be between 0.5 and 0.999.");
        }

        if ((qualityFloor is null) == (strongShare is null))
        {
            throw new ArgumentException("Give exactly one of a quality floor and a strong share.");
        }
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

    internal static string Name(DatasetSplit split) => split.ToString().ToLowerInvariant();

    private static double Fraction(decimal part, decimal whole) => whole == 0 ? 0 : (double)(part / whole);

    private static double Fraction(double part, double whole) => whole == 0 ? 0 : part / whole;

    private static List<EvaluationPrompt> Prompts(IReadOnlyList<DatasetRecord> records, string datasetName, EvaluationTiers tiers, DatasetSplit split, int seed, out int skipped)
    {
        var prompts = EvaluationPrompt.Select(records, tiers, split, seed, out skipped);
        return prompts.Count == 0
            ? throw new InvalidOperationException($"No prompt of {datasetName} (split {Name(split)}) has answers from every tier; {skipped} skipped.")
            : prompts;
    }

    private static List<LearnedRouterExample> Examples(List<EvaluationPrompt> prompts) =>
        [.. prompts.Select(p => new LearnedRouterExample(p.Record.Prompt, p.Record.Task, p.Quality[2] - p.Quality[0], p.Quality[2] - p.Quality[1]))];

    private static LearnedRouterTiers RouterTiers(EvaluationTiers tiers) => new(tiers.Cheap, tiers.Mid, tiers.Top);

    // Each tier's total cost over the top's on the training prompts: the price side of the router's choice.
    private static LearnedTierCosts Costs(List<EvaluationPrompt> prompts, EvaluationTiers tiers)
    {
        var top = prompts.Sum(p => p.Cost[2]);
        return top == 0
            ? LearnedTierCosts.Default
            : new LearnedTierCosts(Math.Min(1, Fraction(prompts.Sum(p => p.Cost[0]), top)), tiers.Mid is null ? 1 : Math.Min(1, Fraction(prompts.Sum(p => p.Cost[1]), top)));
    }

    private static LearnedRouterProvenance Provenance(string datasetName, DatasetSplit split, int seed, int prompts, int skipped, int folds, LearnedRouterTrainingOptions options, IReadOnlyDictionary<string, double>? apgr) => new()
    {
        Dataset = datasetName,
        Split = Name(split),
        Seed = seed,
        Prompts = prompts,
        Skipped = skipped,
        Folds = folds,
        L2 = options.L2,
        Epochs = options.Epochs,
        LearningRate = options.LearningRate,
        Decay = options.Decay,
        TrainingSeed = options.Seed,
        GainTarget = options.GainTarget,
        TaskPriorFeature = options.TaskPriorFeature,
        PriorStrength = options.PriorStrength,
        ScorerApgr = apgr,
    };

    // The settings a router was trained with, to recompute its out-of-fold scores.
    private static LearnedRouterTrainingOptions OptionsOf(LearnedRouter router)
    {
        var t = router.Training!;
        return new LearnedRouterTrainingOptions
        {
            Features = router.Features,
            L2 = t.L2,
            Epochs = t.Epochs,
            LearningRate = t.LearningRate,
            Decay = t.Decay,
            Seed = t.TrainingSeed,
            Folds = t.Folds,
            Scorers = router.Scorers,
            GainTarget = t.GainTarget,
            TaskPriorFeature = t.TaskPriorFeature,
            PriorStrength = t.PriorStrength,
        };
    }
}
