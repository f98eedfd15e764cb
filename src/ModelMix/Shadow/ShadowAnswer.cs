using ModelMix.Pricing;

namespace ModelMix.Shadow;

/// <summary>The candidate model's answer, after its call was made and recorded in the ledger.</summary>
/// <param name="Text">The answer's text.</param>
/// <param name="Usage">Its tokens.</param>
/// <param name="CostUsd">Its cost; null when unpriced.</param>
public sealed record ShadowAnswer(string Text, TokenUsage Usage, decimal? CostUsd);
