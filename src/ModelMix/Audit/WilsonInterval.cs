namespace ModelMix.Audit;

/// <summary>
/// The Wilson score interval of a success rate: how sure a sample of <c>n</c> trials makes us about the true rate.
/// Unlike the normal approximation it stays inside [0, 1] and behaves at 0 and n successes.
/// </summary>
/// <param name="Successes">Successes observed.</param>
/// <param name="Trials">Trials observed.</param>
/// <param name="Lower">Lower bound of the interval.</param>
/// <param name="Upper">Upper bound of the interval.</param>
internal sealed record WilsonInterval(long Successes, long Trials, double Lower, double Upper)
{
    /// <summary>Successes ÷ trials (0 with no trials).</summary>
    public double Rate => Trials == 0 ? 0 : (double)Successes / Trials;

    /// <summary>The interval at a confidence level (e.g. 0.95).</summary>
    /// <param name="successes">Successes, 0..trials.</param>
    /// <param name="trials">Trials, ≥ 0 (0 gives [0, 1]).</param>
    /// <param name="confidence">Two-sided confidence level, between 0 and 1 exclusive.</param>
    public static WilsonInterval Compute(long successes, long trials, double confidence = 0.95)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trials);
        ArgumentOutOfRangeException.ThrowIfNegative(successes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(successes, trials);
        if (trials == 0)
        {
            return new WilsonInterval(0, 0, 0, 1);
        }

        var (lower, upper) = Bounds((double)successes / trials, trials, Z(confidence));
        return new WilsonInterval(successes, trials, lower, upper);
    }

    /// <summary>
    /// How many more trials, at the same observed rate, would lift the lower bound to <paramref name="bar"/>: 0 when
    /// it is already there, null when it never can be (the observed rate is not above the bar).
    /// </summary>
    /// <param name="bar">The rate the lower bound must reach.</param>
    /// <param name="confidence">The confidence level.</param>
    public long? MoreTrialsToClear(double bar, double confidence = 0.95)
    {
        var z = Z(confidence);
        if (Trials > 0 && Lower >= bar)
        {
            return 0;
        }

        var rate = Rate;
        if (Trials == 0 || rate <= bar)
        {
            return null;
        }

        long low = 0, high = 1;
        while (Bounds(rate, Trials + high, z).Lower < bar)
        {
            high *= 2;
            if (high > 1L << 40)
            {
                return null;
            }
        }

        while (low + 1 < high)
        {
            var mid = low + ((high - low) / 2);
            if (Bounds(rate, Trials + mid, z).Lower >= bar)
            {
                high = mid;
            }
            else
            {
                low = mid;
            }
        }

        return high;
    }

    /// <summary>The two-sided standard normal quantile for a confidence level (Acklam's rational approximation).</summary>
    /// <param name="confidence">e.g. 0.95 gives 1.95996.</param>
    public static double Z(double confidence)
    {
        if (!(confidence > 0 && confidence < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "The confidence level must be between 0 and 1 (exclusive), e.g. 0.95.");
        }

        return InverseNormal(1 - ((1 - confidence) / 2));
    }

    private static (double Lower, double Upper) Bounds(double p, long n, double z)
    {
        var z2 = z * z;
        var denominator = 1 + (z2 / n);
        var center = (p + (z2 / (2 * n))) / denominator;
        var half = z / denominator * Math.Sqrt((p * (1 - p) / n) + (z2 / (4.0 * n * n)));
        return (Math.Max(0, center - half), Math.Min(1, center + half));
    }

    private static double InverseNormal(double p)
    {
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        const double Low = 0.02425;
        if (p < Low)
        {
            var q = Math.Sqrt(-2 * Math.Log(p));
            return (((((((c[0] * q) + c[1]) * q) + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((((d[0] * q) + d[1]) * q) + d[2]) * q + d[3]) * q + 1);
        }

        if (p > 1 - Low)
        {
            var q = Math.Sqrt(-2 * Math.Log(1 - p));
            return -(((((((c[0] * q) + c[1]) * q) + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((((d[0] * q) + d[1]) * q) + d[2]) * q + d[3]) * q + 1);
        }

        var r = p - 0.5;
        var s = r * r;
        return (((((((a[0] * s) + a[1]) * s) + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r / (((((((b[0] * s) + b[1]) * s) + b[2]) * s + b[3]) * s + b[4]) * s + 1);
    }
}
