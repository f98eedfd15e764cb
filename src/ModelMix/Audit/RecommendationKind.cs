namespace ModelMix.Audit;

/// <summary>What a recommendation says.</summary>
internal enum RecommendationKind
{
    /// <summary>A cheaper model clears the bar with confidence: pin the task to it.</summary>
    CheaperModel = 0,

    /// <summary>A cheaper model looks good but the evidence is too thin to be sure; more samples are needed.</summary>
    NeedsMoreEvidence = 1,

    /// <summary>
    /// A model dearer per token is cheaper in total, because the cheaper model's retries and escalations to it cost
    /// more than sending the task straight there: pin the task to it.
    /// </summary>
    BiggerModelCheaperInTotal = 2,

    /// <summary>
    /// When not to route: the task's volume is too small for routing to pay for the work (about 10k requests a month,
    /// or the dollar threshold), it must be perfect, or it has a latency target extra calls would put at risk.
    /// </summary>
    DoNotRoute = 3,

    /// <summary>The configured learned router has no in-domain evidence that it beats random routing: the proxy will not serve it.</summary>
    LearnedRouterNotServed = 4,
}
