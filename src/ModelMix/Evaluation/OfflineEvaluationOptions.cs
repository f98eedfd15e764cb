using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Evaluation;

/// <summary>What <see cref="OfflineEvaluator"/> replays and on which part of the data.</summary>
internal sealed record OfflineEvaluationOptions
{
    /// <summary>The split reported on.</summary>
    public DatasetSplit Split { get; init; } = DatasetSplit.Test;

    /// <summary>The split seed.</summary>
    public int Seed { get; init; } = DatasetSplitter.DefaultSeed;

    /// <summary>The learned router to replay, if any.</summary>
    public LearnedRouter? Router { get; init; }

    /// <summary>The quality floor per-task pins must keep (a fraction of the top tier's quality on the task).</summary>
    public double QualityFloor { get; init; } = 0.95;

    /// <summary>The rules to replay; the default rules when null.</summary>
    public RulesPolicy? Rules { get; init; }

    /// <summary>Resolves the rules' tiers; the embedded price book when null.</summary>
    public PriceBook? PriceBook { get; init; }

    /// <summary>The cascade's confidence threshold, when the data records confidences.</summary>
    public double CascadeThreshold { get; init; } = 0.5;

    /// <summary>The verified cascade keeps the cheap answer when its recorded verifier outcome is at least this (1 passed, 0 failed, a judge's score between).</summary>
    public double VerifierThreshold { get; init; } = 0.5;

    /// <summary>Bootstrap resamples for the APGR intervals of the ranking policies (pins, learned).</summary>
    public int Resamples { get; init; } = RouterMetrics.DefaultResamples;
}
