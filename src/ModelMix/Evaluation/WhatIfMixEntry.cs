using ModelMix.Catalog;

namespace ModelMix.Evaluation;

/// <summary>One entry of a <see cref="WhatIfMix"/>: a model, optionally at an effort, and its share of each call.</summary>
/// <param name="Model">The resolved model id.</param>
/// <param name="Effort">The effort the entry runs at (<c>opus@low=30</c>); <see cref="EffortLevel.Unspecified"/> for none.</param>
/// <param name="Share">The share as a fraction in (0, 1].</param>
internal sealed record WhatIfMixEntry(string Model, EffortLevel Effort, decimal Share)
{
    /// <summary>The entry's name in reports: the model id, with <c>@effort</c> when the entry names one.</summary>
    public string Label => RequestTraitsReader.WireName(Effort) is { } effort ? $"{Model}@{effort}" : Model;
}
