namespace ModelMix.Evaluation;

/// <summary>
/// How a what-if mix entry with an effort (<c>opus@low=30</c>) estimated its output tokens: from the traffic's own
/// calls on that model at that effort. An estimate, not a measurement: the calls that ran at an effort may differ
/// from the rest (easier ones run at <c>low</c>, say), which the averages cannot see.
/// </summary>
/// <param name="Entry">The entry's label, e.g. <c>claude-opus-5-5@low</c>.</param>
/// <param name="CallsAtEffort">The traffic's calls on the model at that effort (at least <see cref="SavingsCalculator.MinCallsPerEffort"/>).</param>
/// <param name="MeanOutputTokens">Their mean output tokens per call (thinking included, as the API bills it).</param>
/// <param name="RecordedOutputTokens">The output tokens of the entry's share of the traffic, as recorded.</param>
/// <param name="EstimatedOutputTokens">The same share's output tokens at the entry's effort, as estimated.</param>
internal sealed record WhatIfEffortEstimate(
    string Entry,
    long CallsAtEffort,
    decimal MeanOutputTokens,
    decimal RecordedOutputTokens,
    decimal EstimatedOutputTokens);
