namespace ModelMix.Routing;

/// <summary>Settings for <see cref="LearnedRouterTrainer"/>; the defaults are the ones docs/evaluation.md reports.</summary>
internal sealed record LearnedRouterTrainingOptions
{
    /// <summary>How requests are hashed into features.</summary>
    public LearnedFeatureSettings Features { get; init; } = new();

    /// <summary>The L2 penalty per step.</summary>
    public double L2 { get; init; } = 1e-4;

    /// <summary>Passes over the examples.</summary>
    public int Epochs { get; init; } = 20;

    /// <summary>The initial step size.</summary>
    public double LearningRate { get; init; } = 0.2;

    /// <summary>How fast the step decays per epoch: rate / (1 + decay · epochs so far).</summary>
    public double Decay { get; init; } = 0.5;

    /// <summary>The seed of the example order.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Cross-fitting folds (2 to 20): each prompt's out-of-fold score comes from a model fitted on the other folds.</summary>
    public int Folds { get; init; } = 5;

    /// <summary>
    /// The scorers to average; null lets cross-fitting choose the combination with the best out-of-fold APGR (more
    /// than the linear scorer only when that beats it). <see cref="LearnedRouterTrainer.Train"/> without
    /// cross-fitting uses <see cref="LearnedScorers.Linear"/> when null.
    /// </summary>
    public LearnedScorers? Scorers { get; init; }

    /// <summary>
    /// Train on the quality gap, (gap + 1) / 2 as a fractional logistic target (default); false reproduces v1's label,
    /// "the top tier's answer is strictly better" (for comparisons).
    /// </summary>
    public bool GainTarget { get; init; } = true;

    /// <summary>Give the linear scorers the task prior's log-odds as a feature (default); false for comparisons.</summary>
    public bool TaskPriorFeature { get; init; } = true;

    /// <summary>Pseudo-examples of the overall mean each task's prior is shrunk with.</summary>
    public double PriorStrength { get; init; } = 20;
}
