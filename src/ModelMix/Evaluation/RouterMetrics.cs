namespace ModelMix.Evaluation;

/// <summary>
/// RouteLLM's router metrics (Ong et al., arXiv 2406.18665) for a router between a weak (cheap) and a strong (top)
/// model. Sweeping the router's threshold routes the k highest-scoring prompts to the strong model, k = 0…n, giving a
/// curve of PGR against the share of strong calls, where PGR = (quality − weak quality) / (strong quality − weak
/// quality). APGR is the area under that curve over [0, 1] (trapezoids, as RouteLLM's <c>np.trapz</c>), and CPT(x) is
/// the smallest share of strong calls at which the (piecewise linear) curve reaches PGR x. Prompts with equal scores
/// move together, so ties make one step.
/// </summary>
internal static class RouterMetrics
{
    /// <summary>Computes the curve, APGR and CPT(50%), CPT(80%); null metrics when the two models' qualities are equal.</summary>
    /// <param name="scores">Per prompt: the router's strong-model score (higher = more in need of the strong model).</param>
    /// <param name="weak">Per prompt: the weak model's quality.</param>
    /// <param name="strong">Per prompt: the strong model's quality.</param>
    public static RouterCurve Compute(IReadOnlyList<double> scores, IReadOnlyList<double> weak, IReadOnlyList<double> strong)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var n = scores.Count;
        if (n == 0 || weak.Count != n || strong.Count != n)
        {
            throw new ArgumentException("Metrics need at least one prompt and one score, weak and strong quality per prompt.");
        }

        var order = Enumerable.Range(0, n).OrderByDescending(i => scores[i]).ThenBy(i => i).ToArray();
        var weakMean = weak.Average();
        var strongMean = strong.Average();
        var points = new List<(double Share, double Quality)> { (0, weakMean) };
        var sum = weak.Sum();
        for (var k = 0; k < n; k++)
        {
            var i = order[k];
            sum += strong[i] - weak[i];
            if (k == n - 1 || scores[order[k + 1]] != scores[i])
            {
                points.Add(((k + 1) / (double)n, sum / n));
            }
        }

        return FromPoints(points, weakMean, strongMean);
    }

    /// <summary>The metrics of a curve given as points (share of strong calls, mean quality), from share 0 to 1.</summary>
    /// <param name="points">The curve, sorted by share, starting at 0 and ending at 1.</param>
    /// <param name="weakMean">The weak model's mean quality.</param>
    /// <param name="strongMean">The strong model's mean quality.</param>
    public static RouterCurve FromPoints(IReadOnlyList<(double Share, double Quality)> points, double weakMean, double strongMean)
    {
        ArgumentNullException.ThrowIfNull(points);
        var gap = strongMean - weakMean;
        if (gap == 0)
        {
            return new RouterCurve(points, null, null, null);
        }

        var pgr = points.Select(p => (p.Share, Pgr: (p.Quality - weakMean) / gap)).ToList();
        var area = 0.0;
        for (var k = 1; k < pgr.Count; k++)
        {
            area += (pgr[k].Share - pgr[k - 1].Share) * (pgr[k].Pgr + pgr[k - 1].Pgr) / 2;
        }

        return new RouterCurve(points, area, Cpt(pgr, 0.5), Cpt(pgr, 0.8));
    }

    /// <summary>The default number of bootstrap resamples.</summary>
    public const int DefaultResamples = 1000;

    /// <summary>
    /// APGR with a percentile bootstrap interval: the prompts are drawn with replacement <paramref name="resamples"/>
    /// times (seeded, so the interval is reproducible) and the APGR recomputed on each draw, ranking by the same scores
    /// (a prompt drawn k times moves as k tied prompts). Random routing's APGR is 0.5 on any draw, so an interval above
    /// 0.5 means the router beats random on this data. Null when the two models' qualities are equal.
    /// </summary>
    /// <param name="scores">Per prompt: the router's strong-model score.</param>
    /// <param name="weak">Per prompt: the weak model's quality.</param>
    /// <param name="strong">Per prompt: the strong model's quality.</param>
    /// <param name="resamples">Bootstrap resamples (at least 10).</param>
    /// <param name="confidence">The two-sided confidence level, 0.5 to 0.999.</param>
    /// <param name="seed">The resampling seed.</param>
    public static ApgrInterval? Bootstrap(IReadOnlyList<double> scores, IReadOnlyList<double> weak, IReadOnlyList<double> strong, int resamples = DefaultResamples, double confidence = 0.95, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(weak);
        ArgumentNullException.ThrowIfNull(strong);
        ArgumentOutOfRangeException.ThrowIfLessThan(resamples, 10);
        if (confidence is < 0.5 or > 0.999)
        {
            throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "The confidence must be between 0.5 and 0.999.");
        }

        if (Compute(scores, weak, strong).Apgr is not { } apgr)
        {
            return null;
        }

        var n = scores.Count;
        var order = Enumerable.Range(0, n).OrderByDescending(i => scores[i]).ThenBy(i => i).ToArray();
        var groupEnd = new bool[n];
        for (var k = 0; k < n; k++)
        {
            groupEnd[k] = k == n - 1 || scores[order[k + 1]] != scores[order[k]];
        }

        var random = new Random(seed);
        var counts = new int[n];
        var values = new List<double>(resamples);
        for (var r = 0; r < resamples; r++)
        {
            Array.Clear(counts);
            for (var k = 0; k < n; k++)
            {
                counts[random.Next(n)]++;
            }

            double weakSum = 0, strongSum = 0;
            for (var i = 0; i < n; i++)
            {
                weakSum += counts[i] * weak[i];
                strongSum += counts[i] * strong[i];
            }

            var gap = (strongSum - weakSum) / n;
            if (gap == 0)
            {
                continue; // PGR is undefined on this draw
            }

            double cumulative = 0, gained = 0, area = 0, previousShare = 0, previousPgr = 0;
            for (var k = 0; k < n; k++)
            {
                var i = order[k];
                cumulative += counts[i];
                gained += counts[i] * (strong[i] - weak[i]);
                if (groupEnd[k])
                {
                    var share = cumulative / n;
                    var pgr = gained / n / gap;
                    area += (share - previousShare) * (pgr + previousPgr) / 2;
                    (previousShare, previousPgr) = (share, pgr);
                }
            }

            values.Add(area);
        }

        values.Sort();
        var tail = (1 - confidence) / 2;
        return new ApgrInterval(apgr, Quantile(values, tail), Quantile(values, 1 - tail), confidence, resamples);
    }

    private static double Quantile(List<double> sorted, double q)
    {
        if (sorted.Count == 0)
        {
            return double.NaN;
        }

        var at = q * (sorted.Count - 1);
        var low = (int)Math.Floor(at);
        var high = Math.Min(sorted.Count - 1, low + 1);
        return sorted[low] + ((sorted[high] - sorted[low]) * (at - low));
    }

    private static double? Cpt(List<(double Share, double Pgr)> curve, double target)
    {
        if (curve[0].Pgr >= target)
        {
            return curve[0].Share;
        }

        for (var k = 1; k < curve.Count; k++)
        {
            if (curve[k].Pgr >= target)
            {
                var (s0, p0) = curve[k - 1];
                var (s1, p1) = curve[k];
                return s0 + ((s1 - s0) * (target - p0) / (p1 - p0));
            }
        }

        return null;
    }
}
