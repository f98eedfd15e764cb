using ModelMix.Pricing;

namespace ModelMix.Shadow;

/// <summary>The live side of a pair, read on a shadow worker (never on the caller's path).</summary>
/// <param name="Model">The model that answered live (the routed model).</param>
/// <param name="Text">The answer's text.</param>
/// <param name="Usage">Its tokens.</param>
/// <param name="CostUsd">Its cost; null when unpriced.</param>
/// <param name="PromptText">The request's text (for the judge, and stored only when answers are stored).</param>
/// <param name="SkipReason">Why the pair is not worth a shadow call (a tool call, a failed answer); null to go on.</param>
internal sealed record ShadowLiveAnswer(string Model, string Text, TokenUsage Usage, decimal? CostUsd, string PromptText, string? SkipReason = null);
