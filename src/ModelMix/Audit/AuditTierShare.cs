namespace ModelMix.Audit;

/// <summary>One tier's part of the model mix.</summary>
/// <param name="Tier">The price book family (<c>haiku</c>, <c>sonnet</c>, <c>opus</c>) or <c>other</c> for models the book cannot place.</param>
/// <param name="Calls">Records served by the tier.</param>
/// <param name="CallShare">Calls ÷ all calls (0–1).</param>
/// <param name="CostUsd">Their exact recorded cost.</param>
/// <param name="CostShare">Cost ÷ all cost (0–1; 0 when nothing cost anything).</param>
internal sealed record AuditTierShare(string Tier, long Calls, decimal CallShare, decimal CostUsd, decimal CostShare);
