namespace ModelMix.Shadow;

/// <summary>
/// One sampled request for the <see cref="ShadowRunner"/>: everything is read and sent by the delegates on a
/// background worker, so handing a job over costs the caller only a queue write.
/// </summary>
internal sealed record ShadowJob
{
    /// <summary>The pair id (from <see cref="ShadowRunner.TrySample"/>).</summary>
    public required string PairId { get; init; }

    /// <summary>The live request's id.</summary>
    public required string LiveRequestId { get; init; }

    /// <summary>The caller's task label, if any.</summary>
    public string? TaskLabel { get; init; }

    /// <summary>When the live call started.</summary>
    public required DateTimeOffset LiveTimestamp { get; init; }

    /// <summary>Reads the live answer (runs on the worker).</summary>
    public required Func<ShadowLiveAnswer> ReadLive { get; init; }

    /// <summary>The worst-case cost in USD of the shadow call, reserved from the shadow budget before it is made.</summary>
    public required Func<DateTimeOffset, decimal> WorstCaseUsd { get; init; }

    /// <summary>Makes the candidate call, records it in the ledger (policy <c>shadow</c>, <c>request_id</c> and <c>shadow_pair_id</c> = the pair id) and returns its answer; throws when it failed.</summary>
    public required Func<ShadowLiveAnswer, CancellationToken, Task<ShadowAnswer>> RunShadowAsync { get; init; }
}
