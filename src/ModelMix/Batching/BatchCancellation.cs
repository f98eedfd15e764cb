namespace ModelMix.Batching;

/// <summary>What canceling a job did in the store.</summary>
/// <param name="Canceled">The requests canceled before they were sent (to record in the ledger as canceled).</param>
/// <param name="Upstream">Open submissions (id, upstream batch id) to cancel upstream: they hold only requests of canceled jobs.</param>
public sealed record BatchCancellation(IReadOnlyList<BatchItem> Canceled, IReadOnlyList<(string SubmissionId, string UpstreamId)> Upstream);
