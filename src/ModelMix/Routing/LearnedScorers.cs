namespace ModelMix.Routing;

/// <summary>The scorers a learned router averages (training keeps more than one only if that beats one out of fold).</summary>
[Flags]
internal enum LearnedScorers
{
    /// <summary>Logistic regression over every feature: word and character n-grams, task label, markers, task prior.</summary>
    Linear = 1,

    /// <summary>Logistic regression over words only (uni- and bigrams), task label, markers and task prior.</summary>
    Words = 2,

    /// <summary>The task prior alone: the mean quality gap of the request's task label on the training data.</summary>
    TaskPrior = 4,
}
