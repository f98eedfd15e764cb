namespace ModelMix.Evaluation;

/// <summary>
/// RouteLLM's router metrics (Ong et al., arXiv 2406.18665) for a router between a weak (cheap) and a strong (top)
/// model. Sweeping the router's threshold routes the k highest-scoring prompts to the strong model, k = 0…n, giving a
/// curve of PGR against the share of strong calls, where PGR = (quality − weak quality) / (strong quality − weak
/// quality). APGR is the area under that curve over [0, 1] (trapezoids, as RouteLLM's <c>np.trapz</c>), and CPT(x) is
/// the smallest share of strong calls at which the (piecewise linear) curve reaches PGR x. Prompts with equal scores
/// move together, so ties make one step.
/// </summary>
public static class RouterMetrics
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
