namespace ModelMix.Routing;

/// <summary>What a learned router was trained on, so evaluation can refuse to report on the same data.</summary>
public sealed record LearnedRouterProvenance
{
    /// <summary>The dataset file name (no folder).</summary>
    public required string Dataset { get; init; }

    /// <summary>The split trained on (e.g. <c>train</c>).</summary>
    public required string Split { get; init; }

    /// <summary>The split seed.</summary>
    public int Seed { get; init; }

    /// <summary>How many prompts were trained on.</summary>
    public int Prompts { get; init; }

    /// <summary>How many prompts were skipped because they lacked a tier's model.</summary>
    public int Skipped { get; init; }

    /// <summary>The L2 penalty.</summary>
    public double L2 { get; init; }

    /// <summary>Training epochs.</summary>
    public int Epochs { get; init; }

    /// <summary>The training seed (example order).</summary>
    public int TrainingSeed { get; init; }
}
