namespace ModelMix.Evaluation;

/// <summary>One model's recorded answer to a dataset prompt: its quality and what it cost.</summary>
/// <param name="Quality">The answer's quality in [0, 1], higher is better (meaning depends on the dataset's source).</param>
/// <param name="CostUsd">What the answer cost, in USD.</param>
/// <param name="InputTokens">Input tokens of the call, when recorded.</param>
/// <param name="OutputTokens">Output tokens of the call, when recorded.</param>
/// <param name="Verified">
/// What a verifier a deployment can run said of this answer, when recorded (<c>verified</c>): 1 passed, 0 failed
/// (unit tests, an exact-match check), or a judge's score in between. <c>modelmix eval</c> replays a verified
/// cascade from it: the cheap answer is kept when it passes, else the top tier is called.
/// </param>
/// <param name="VerifierCostUsd">What running the verifier on this answer cost, when recorded (<c>verifier_cost_usd</c>; a judge call; 0 for tests).</param>
internal sealed record DatasetCandidate(double Quality, decimal CostUsd, long? InputTokens = null, long? OutputTokens = null, double? Verified = null, decimal? VerifierCostUsd = null);
