namespace ModelMix.Audit;

/// <summary>What a recommendation says.</summary>
public enum RecommendationKind
{
    /// <summary>A cheaper model clears the bar with confidence: pin the task to it.</summary>
    CheaperModel = 0,

    /// <summary>A cheaper model looks good but the evidence is too thin to be sure; more samples are needed.</summary>
    NeedsMoreEvidence = 1,

    /// <summary>The cheap model's retries and escalations make the bigger model cheaper in total: pin the task to it.</summary>
    BiggerModelCheaperInTotal = 2,
}
