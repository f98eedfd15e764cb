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
