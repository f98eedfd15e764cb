namespace ModelMix.Batching;

/// <summary>What quarantining a job did in the store (<see cref="IBatchStore.QuarantineJobAsync"/>).</summary>
/// <param name="Errored">Its requests that ended <c>errored</c> by it (to record in the ledger).</param>
/// <param name="Closed">Submissions left holding no request to wait for, closed (state <c>failed</c>): (id, upstream batch id or null), to cancel upstream.</param>
public sealed record BatchQuarantine(IReadOnlyList<BatchItem> Errored, IReadOnlyList<(string SubmissionId, string? UpstreamId)> Closed);
