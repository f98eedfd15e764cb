namespace ModelMix.Routing;

/// <summary>
/// Picks confidence thresholds from logged confidences, as RouteLLM calibrates its routers: to escalate a share
/// p of requests, the threshold is the p-quantile of the cheap model's confidences (RouteLLM phrases it as the
/// (1 − p) quantile of the strong-model win rate). Pure and deterministic.
/// </summary>
public static class ThresholdCalibrator
{
    /// <summary>
    /// The threshold t such that the fraction of <paramref name="confidences"/> strictly below t is as close as
    /// possible to <paramref name="targetRate"/>: with n values sorted, k = round(p·n) of them fall below t, t is the
    /// midpoint between the k-th and (k+1)-th values (so small drifts in new data do not flip the boundary values).
    /// Ties at the boundary can make the achieved rate lower than k/n; <see cref="EscalationRate"/> tells.
    /// </summary>
    /// <param name="confidences">Logged confidences (any finite values, usually 0 to 1), one per request.</param>
    /// <param name="targetRate">The share of requests to escalate, 0 to 1.</param>
    /// <exception cref="ArgumentException">No confidences, or a NaN or infinite one.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="targetRate"/> is outside 0 to 1.</exception>
    public static double ForTargetEscalationRate(IReadOnlyList<double> confidences, double targetRate)
    {
        ArgumentNullException.ThrowIfNull(confidences);
        if (!(targetRate >= 0 && targetRate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(targetRate), targetRate, "The target escalation rate must be between 0 and 1.");
        }

        if (confidences.Count == 0)
        {
            throw new ArgumentException("Calibration needs at least one logged confidence.", nameof(confidences));
        }

        var sorted = new double[confidences.Count];
        for (var i = 0; i < sorted.Length; i++)
        {
            var c = confidences[i];
            if (!double.IsFinite(c))
            {
                throw new ArgumentException($"Confidence #{i} is {c}; every confidence must be a finite number.", nameof(confidences));
            }

            sorted[i] = c;
        }

        Array.Sort(sorted);
        var n = sorted.Length;
        var k = (int)Math.Round(targetRate * n, MidpointRounding.AwayFromZero);
        if (k <= 0)
        {
            return sorted[0];
        }

        if (k >= n)
        {
            return Math.BitIncrement(sorted[n - 1]);
        }

        var below = sorted[k - 1];
        var above = sorted[k];
        return below == above ? above : below + ((above - below) / 2);
    }

    /// <summary>The fraction of <paramref name="confidences"/> strictly below <paramref name="threshold"/>: the escalation rate it gives.</summary>
    /// <param name="confidences">Logged confidences.</param>
    /// <param name="threshold">A confidence threshold (escalate when confidence &lt; threshold).</param>
    public static double EscalationRate(IReadOnlyList<double> confidences, double threshold)
    {
        ArgumentNullException.ThrowIfNull(confidences);
        if (confidences.Count == 0)
        {
            return 0;
        }

        var below = 0;
        for (var i = 0; i < confidences.Count; i++)
        {
            if (confidences[i] < threshold)
            {
                below++;
            }
        }

        return (double)below / confidences.Count;
    }
}
