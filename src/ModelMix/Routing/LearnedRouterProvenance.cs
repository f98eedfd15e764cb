namespace ModelMix.Routing;

/// <summary>What a learned router was trained on and how, so evaluation can refuse to report on the same data and calibration can recompute its out-of-fold scores.</summary>
internal sealed record LearnedRouterProvenance
{
    /// <summary>The dataset file name (no folder).</summary>
    public required string Dataset { get; init; }

    /// <summary>The split trained on (e.g. <c>all</c>).</summary>
    public required string Split { get; init; }

    /// <summary>The split seed (also the fold seed).</summary>
    public int Seed { get; init; }

    /// <summary>How many prompts were trained on.</summary>
    public int Prompts { get; init; }

    /// <summary>How many prompts were skipped because they lacked a tier's model.</summary>
    public int Skipped { get; init; }

    /// <summary>The cross-fitting folds the out-of-fold scores came from (0: trained once, not cross-fitted).</summary>
    public int Folds { get; init; }

    /// <summary>The L2 penalty.</summary>
    public double L2 { get; init; }

    /// <summary>Training epochs.</summary>
    public int Epochs { get; init; }

    /// <summary>The initial SGD step.</summary>
    public double LearningRate { get; init; }

    /// <summary>The step decay.</summary>
    public double Decay { get; init; }

    /// <summary>The training seed (example order).</summary>
    public int TrainingSeed { get; init; }

    /// <summary>Whether the target was the quality gap (false: v1's "top strictly better" label).</summary>
    public bool GainTarget { get; init; } = true;

    /// <summary>Whether the linear scorers had the task prior as a feature.</summary>
    public bool TaskPriorFeature { get; init; } = true;

    /// <summary>The pseudo-examples the task prior was shrunk with.</summary>
    public double PriorStrength { get; init; }

    /// <summary>Out-of-fold APGR of each scorer combination tried (e.g. <c>linear+task-prior</c> → 0.67), when cross-fitted.</summary>
    public IReadOnlyDictionary<string, double>? ScorerApgr { get; init; }
}
