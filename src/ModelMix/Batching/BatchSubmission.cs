namespace ModelMix.Batching;

/// <summary>
/// One Message Batch ModelMix created (or is creating) upstream. It is stored as <c>submitting</c> with its requests
/// before the create call, so a crash between "created upstream" and "id stored" is found and reconciled on restart.
/// </summary>
public sealed record BatchSubmission
{
    /// <summary>ModelMix's id for the submission.</summary>
    public required string Id { get; init; }

    /// <summary>The upstream <c>msgbatch_…</c> id, once known.</summary>
    public string? UpstreamId { get; init; }

    /// <summary><c>submitting</c>, <c>in_progress</c>, <c>collected</c>, or <c>failed</c> (closed by a quarantine with nothing left to wait for).</summary>
    public required string State { get; init; }

    /// <summary>When the submission was stored (just before the create call).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>How many requests it carries.</summary>
    public required int Count { get; init; }

    /// <summary>The earliest time to poll it again.</summary>
    public required DateTimeOffset NextPollAt { get; init; }

    /// <summary>The current poll interval (grows with back-off).</summary>
    public required TimeSpan PollDelay { get; init; }

    /// <summary>
    /// Set while requests of it that a quarantine charged their worst case (<c>usage_estimated</c>) wait for the batch's
    /// results to correct their ledger records and budgets: the batcher looks for them until this time
    /// (docs/batch.md, "Correcting the estimates"); null otherwise.
    /// </summary>
    public DateTimeOffset? CorrectUntil { get; init; }
}
