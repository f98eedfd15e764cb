namespace ModelMix.Routing;

/// <summary>Where and how a learned router's price of quality was picked (by <c>modelmix train</c> with a floor or <c>modelmix calibrate</c>).</summary>
internal sealed record LearnedRouterCalibration
{
    /// <summary>The dataset file name it was picked on.</summary>
    public required string Dataset { get; init; }

    /// <summary>The split of that dataset (e.g. <c>all</c>).</summary>
    public required string Split { get; init; }

    /// <summary>The split seed.</summary>
    public int Seed { get; init; }

    /// <summary><c>out-of-fold</c> (cross-fitted scores of the data the router was trained on) or <c>held-out</c>.</summary>
    public string Scores { get; init; } = "held-out";

    /// <summary>The quality floor asked for (a fraction of the top tier's quality), when calibrated to one.</summary>
    public double? QualityFloor { get; init; }

    /// <summary>The one-sided confidence with which the floor had to hold on that data (lower confidence bound), when calibrated to a floor.</summary>
    public double? Confidence { get; init; }

    /// <summary>The strong (top-tier) share asked for, when calibrated to one.</summary>
    public double? StrongShare { get; init; }

    /// <summary>How many prompts it was picked on.</summary>
    public int Prompts { get; init; }

    /// <summary>The quality kept on that data, as a fraction of the top tier's.</summary>
    public double QualityPctOfTop { get; init; }

    /// <summary>The cost on that data, as a fraction of the top tier's.</summary>
    public double CostPctOfTop { get; init; }

    /// <summary>The share of prompts sent to each tier on that data (cheap, mid, top).</summary>
    public double[] TierShares { get; init; } = [];

    /// <summary>Whether the floor (or share) was met on that data.</summary>
    public bool Met { get; init; }

    /// <summary>Why the middle tier was dropped (it never paid for its price), or null when it is used or there is none.</summary>
    public string? MidDropped { get; init; }
}
