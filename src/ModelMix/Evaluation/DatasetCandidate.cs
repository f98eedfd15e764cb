namespace ModelMix.Evaluation;

/// <summary>One model's recorded answer to a dataset prompt: its quality and what it cost.</summary>
/// <param name="Quality">The answer's quality in [0, 1], higher is better (meaning depends on the dataset's source).</param>
/// <param name="CostUsd">What the answer cost, in USD.</param>
/// <param name="InputTokens">Input tokens of the call, when recorded.</param>
/// <param name="OutputTokens">Output tokens of the call, when recorded.</param>
public sealed record DatasetCandidate(double Quality, decimal CostUsd, long? InputTokens = null, long? OutputTokens = null);
