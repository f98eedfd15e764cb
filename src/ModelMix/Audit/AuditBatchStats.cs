namespace ModelMix.Audit;

/// <summary>The Message Batches share of the traffic and what the batch discount saved.</summary>
/// <param name="Calls">Records served at the batch tier.</param>
/// <param name="CallShare">Those ÷ all records (0–1).</param>
/// <param name="CostUsd">Their recorded cost.</param>
/// <param name="SavingsUsd">What the same calls would have cost at the standard tier, minus what they cost.</param>
internal sealed record AuditBatchStats(long Calls, decimal CallShare, decimal CostUsd, decimal SavingsUsd);
