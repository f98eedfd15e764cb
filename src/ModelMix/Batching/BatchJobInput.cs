namespace ModelMix.Batching;

/// <summary>A job to queue: its requests and who asked for it.</summary>
public sealed record BatchJobInput
{
    /// <summary>The job id to use (<c>SqliteBatchStore.NewJobId</c>), or null for a new one.</summary>
    public string? Id { get; init; }

    /// <summary>The budget reservation held for the job (opaque JSON, settled when it ends), or null.</summary>
    public string? BudgetReservation { get; init; }

    /// <summary>The virtual key id of the caller (never the key), or null.</summary>
    public string? KeyId { get; init; }

    /// <summary>The caller's idempotency key: a second job with the same key (and key id) returns the first job instead.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>Session id for the ledger records, if any.</summary>
    public string? SessionId { get; init; }

    /// <summary>Task label for the ledger records, if any.</summary>
    public string? TaskLabel { get; init; }

    /// <summary>The requests, in order.</summary>
    public required IReadOnlyList<BatchItemInput> Items { get; init; }
}
