using System.Globalization;

namespace ModelMix.Routing;

/// <summary>
/// What a learned router is known to be worth, and where that was measured (written by <c>modelmix train</c> with a
/// floor and by <c>modelmix calibrate</c>): RouteLLM's APGR of its cheap-vs-top ranking with a bootstrap confidence
/// interval, against random routing's 0.5, and whether the data was in-domain (the deployment's own traffic: shadow
/// pairs from <c>modelmix export --shadow</c>). The proxy serves <c>auto-learned</c> only from a router whose
/// in-domain evidence beats random (<see cref="LearnedRouterGuard"/>).
/// </summary>
internal sealed record LearnedRouterEvidence
{
    /// <summary>The APGR of random routing, the bar a router must clear.</summary>
    public const double RandomApgr = 0.5;

    /// <summary>The dataset file name the evidence was measured on.</summary>
    public required string Dataset { get; init; }

    /// <summary>The split of that dataset.</summary>
    public required string Split { get; init; }

    /// <summary>The split seed.</summary>
    public int Seed { get; init; }

    /// <summary>How many prompts the evidence rests on.</summary>
    public int Prompts { get; init; }

    /// <summary>
    /// Which scores were measured: <c>out-of-fold</c> (each prompt scored by a model that did not see it, the
    /// cross-fitted router) or <c>held-out</c> (a split the router was not trained on).
    /// </summary>
    public required string Scores { get; init; }

    /// <summary>Whether the data is the deployment's own traffic (shadow pairs, or declared so with <c>--in-domain</c>).</summary>
    public bool InDomain { get; init; }

    /// <summary>Why the data counts as in-domain or not, in words.</summary>
    public string? Domain { get; init; }

    /// <summary>The APGR of the router's cheap-vs-top ranking on that data.</summary>
    public double Apgr { get; init; }

    /// <summary>The lower end of the bootstrap interval of the APGR.</summary>
    public double ApgrLower { get; init; }

    /// <summary>The upper end of the bootstrap interval of the APGR.</summary>
    public double ApgrUpper { get; init; }

    /// <summary>The interval's two-sided confidence level (e.g. 0.95).</summary>
    public double Confidence { get; init; }

    /// <summary>Bootstrap resamples (prompts drawn with replacement).</summary>
    public int Resamples { get; init; }

    /// <summary>Whether the router beats random routing: the whole interval lies above 0.5.</summary>
    public bool BeatsRandom => ApgrLower > RandomApgr;

    /// <summary>One sentence: the APGR, its interval, the data, and the verdict against random.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"APGR {Apgr:0.000} ({Confidence * 100:0}% bootstrap interval {ApgrLower:0.000}–{ApgrUpper:0.000}, {Resamples} resamples) on {Prompts} prompts of {Dataset} (split {Split}, {Scores} scores), ")
        + (BeatsRandom ? "above random routing's 0.5" : "which does not beat random routing's 0.5");
}
