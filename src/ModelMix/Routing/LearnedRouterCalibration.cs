namespace ModelMix.Routing;

/// <summary>Where and how a learned router's thresholds were picked (written by <c>modelmix calibrate</c>).</summary>
public sealed record LearnedRouterCalibration
{
    /// <summary>The dataset file name the thresholds were picked on.</summary>
    public required string Dataset { get; init; }

    /// <summary>The split of that dataset (e.g. <c>calibration</c>).</summary>
    public required string Split { get; init; }

    /// <summary>The split seed.</summary>
    public int Seed { get; init; }

    /// <summary>The quality floor asked for (a fraction of the top tier's quality), when calibrated to one.</summary>
    public double? QualityFloor { get; init; }

    /// <summary>The one-sided confidence with which the floor had to hold on that data (lower confidence bound), when calibrated to a floor.</summary>
    public double? Confidence { get; init; }

    /// <summary>The strong (top-tier) share asked for, when calibrated to one.</summary>
    public double? StrongShare { get; init; }

    /// <summary>How many prompts the thresholds were picked on.</summary>
    public int Prompts { get; init; }

    /// <summary>The quality kept on that data, as a fraction of the top tier's.</summary>
    public double QualityPctOfTop { get; init; }

    /// <summary>The cost on that data, as a fraction of the top tier's.</summary>
    public double CostPctOfTop { get; init; }

    /// <summary>Whether the floor (or share) was met on that data.</summary>
    public bool Met { get; init; }
}
