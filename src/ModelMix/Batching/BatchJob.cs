namespace ModelMix.Batching;

/// <summary>A queued batch job and where its requests are: the counts by state, and whether every request has a result.</summary>
public sealed record BatchJob
{
    /// <summary>The job id (<c>mmxjob_…</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The virtual key id that created it, or null.</summary>
    public string? KeyId { get; init; }

    /// <summary>The budget reservation held for it (opaque JSON), or null when no budget applies.</summary>
    public string? BudgetReservation { get; init; }

    /// <summary>When it was canceled (<c>POST …/cancel</c>), or null.</summary>
    public DateTimeOffset? CanceledAt { get; init; }

    /// <summary>When it was queued.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Faults met since the job last made progress (a collected Message Batch clears them); at <see cref="BatcherOptions.MaxJobFailures"/> it is quarantined.</summary>
    public int Failures { get; init; }

    /// <summary>The reason of the latest fault met while handling the job (kept after it recovered), or null.</summary>
    public string? LastError { get; init; }

    /// <summary>When its queued requests may be tried again after a fault, or null.</summary>
    public DateTimeOffset? RetryAt { get; init; }

    /// <summary>
    /// When it was quarantined after <see cref="BatcherOptions.MaxJobFailures"/> faults, or null: its requests not yet
    /// answered ended <c>errored</c> (<c>batch_quarantined</c>, the reason in <see cref="LastError"/>), and it is never
    /// retried automatically.
    /// </summary>
    public DateTimeOffset? QuarantinedAt { get; init; }

    /// <summary>Requests not yet sent upstream.</summary>
    public long Queued { get; init; }

    /// <summary>Requests in a Message Batch that has not ended.</summary>
    public long Processing { get; init; }

    /// <summary>Requests answered.</summary>
    public long Succeeded { get; init; }

    /// <summary>Requests the API answered with an error.</summary>
    public long Errored { get; init; }

    /// <summary>Requests canceled before they were processed.</summary>
    public long Canceled { get; init; }

    /// <summary>Requests that expired (24 h) before they were processed.</summary>
    public long Expired { get; init; }

    /// <summary>Total requests.</summary>
    public long Total => Queued + Processing + Succeeded + Errored + Canceled + Expired;

    /// <summary><c>queued</c> (nothing sent yet), <c>in_progress</c> or <c>ended</c> (every request has a result).</summary>
    public string ProcessingStatus => Queued + Processing == 0 ? "ended" : Queued == Total ? "queued" : "in_progress";
}
