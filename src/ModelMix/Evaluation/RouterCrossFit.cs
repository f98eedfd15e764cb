using ModelMix.Routing;

namespace ModelMix.Evaluation;

/// <summary>
/// A cross-fitted router (<see cref="RouterTraining.CrossFit"/>): the router refit on every labelled prompt, and each
/// prompt's out-of-fold score (from a model fitted on the other folds), which calibration and the evidence use.
/// </summary>
internal sealed class RouterCrossFit
{
    internal RouterCrossFit(LearnedRouter router, List<EvaluationPrompt> prompts, LearnedScore[] outOfFold, LearnedScorers scorers, IReadOnlyDictionary<string, double> scorerApgr, string dataset, DatasetSplit split, int seed, int skipped)
    {
        Router = router;
        Prompts = prompts;
        OutOfFold = outOfFold;
        Scorers = scorers;
        ScorerApgr = scorerApgr;
        Dataset = dataset;
        Split = split;
        Seed = seed;
        Skipped = skipped;
    }

    /// <summary>The router refit on every prompt (uncalibrated until <see cref="RouterTraining.Calibrate(RouterCrossFit, double?, double?, double, bool?)"/>).</summary>
    public LearnedRouter Router { get; }

    /// <summary>Each prompt's out-of-fold score, in <see cref="Records"/> order.</summary>
    public IReadOnlyList<LearnedScore> OutOfFold { get; }

    /// <summary>The prompts cross-fitted (those with every tier's answer), in file order.</summary>
    public IReadOnlyList<DatasetRecord> Records => [.. Prompts.Select(p => p.Record)];

    /// <summary>The scorers kept (the combination with the best out-of-fold APGR, simplest on a tie).</summary>
    public LearnedScorers Scorers { get; }

    /// <summary>The out-of-fold APGR of each scorer combination tried.</summary>
    public IReadOnlyDictionary<string, double> ScorerApgr { get; }

    /// <summary>The dataset file name.</summary>
    public string Dataset { get; }

    /// <summary>The split cross-fitted.</summary>
    public DatasetSplit Split { get; }

    /// <summary>The split and fold seed.</summary>
    public int Seed { get; }

    /// <summary>Prompts skipped because they lacked a tier's model.</summary>
    public int Skipped { get; }

    internal List<EvaluationPrompt> Prompts { get; }
}
