namespace ModelMix.Evaluation;

/// <summary>A router's APGR with a percentile bootstrap interval (prompts resampled with replacement).</summary>
/// <param name="Apgr">The APGR on the data as it is.</param>
/// <param name="Lower">The interval's lower end.</param>
/// <param name="Upper">The interval's upper end.</param>
/// <param name="Confidence">The two-sided confidence level (e.g. 0.95).</param>
/// <param name="Resamples">How many resamples were drawn.</param>
internal sealed record ApgrInterval(double Apgr, double Lower, double Upper, double Confidence, int Resamples)
{
    /// <summary>Whether the router beats random routing (APGR 0.5): the whole interval lies above it.</summary>
    public bool BeatsRandom => Lower > 0.5;
}
