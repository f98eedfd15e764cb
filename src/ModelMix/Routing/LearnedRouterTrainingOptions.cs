namespace ModelMix.Routing;

/// <summary>Settings for <see cref="LearnedRouterTrainer"/>; the defaults are the ones docs/evaluation.md reports.</summary>
public sealed record LearnedRouterTrainingOptions
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
}
