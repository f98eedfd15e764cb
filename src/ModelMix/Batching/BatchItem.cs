namespace ModelMix.Batching;

/// <summary>One stored request of a job, with its result once the batch ended.</summary>
public sealed record BatchItem
{
    /// <summary>ModelMix's id (the upstream <c>custom_id</c> and the ledger record id).</summary>
    public required string Id { get; init; }

    /// <summary>The job it belongs to.</summary>
    public required string JobId { get; init; }

    /// <summary>The caller's custom id.</summary>
    public required string CustomId { get; init; }

    /// <summary>The Messages body sent upstream.</summary>
    public required byte[] Params { get; init; }

    /// <summary>What the caller asked for.</summary>
    public required string RequestedModel { get; init; }

    /// <summary>Where it was routed.</summary>
    public required string RoutedModel { get; init; }

    /// <summary>The routing policy.</summary>
    public string? Policy { get; init; }

    /// <summary>The routing reason.</summary>
    public string? Reason { get; init; }

    /// <summary>The virtual key id.</summary>
    public string? KeyId { get; init; }

    /// <summary>Session id.</summary>
    public string? SessionId { get; init; }

    /// <summary>Task label.</summary>
    public string? TaskLabel { get; init; }

    /// <summary><c>queued</c>, <c>submitted</c>, <c>succeeded</c>, <c>errored</c>, <c>canceled</c> or <c>expired</c>.</summary>
    public required string Status { get; init; }

    /// <summary>The upstream result object (<c>{"type":"succeeded","message":…}</c> …) as received, once ended.</summary>
    public string? Result { get; init; }
}
