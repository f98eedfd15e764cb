using System.Globalization;

namespace ModelMix.Routing;

/// <summary>A tier's share of recent calls crossed its bound (or fell back under it).</summary>
/// <param name="Tier">The tier, e.g. <c>opus</c>.</param>
/// <param name="Share">Its share of the calls in the window, from 0 to 1.</param>
/// <param name="Bound">The configured bound, from 0 to 1.</param>
/// <param name="TierCalls">Calls of the tier in the window.</param>
/// <param name="WindowCalls">Calls in the window.</param>
/// <param name="At">When the crossing was observed.</param>
public sealed record TierDriftAlert(string Tier, double Share, double Bound, int TierCalls, int WindowCalls, DateTimeOffset At)
{
    /// <summary>One line for logs and notifications, e.g. <c>opus took 25.0% of the last 40 calls (10), bound 20.0%</c>.</summary>
    public override string ToString() => string.Format(
        CultureInfo.InvariantCulture,
        "{0} took {1:0.0%} of the last {2} calls ({3}), bound {4:0.0%}",
        Tier,
        Share,
        WindowCalls,
        TierCalls,
        Bound);
}
