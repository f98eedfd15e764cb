using ModelMix.Ledger;

namespace ModelMix.Batching;

/// <summary>The batch queue's ids and stored constants, the same in every store backend.</summary>
internal static class BatchIds
{
    /// <summary>The result stored for a request canceled before it was sent (the API's shape for a canceled result).</summary>
    public const string CanceledResult = "{\"type\":\"canceled\"}";

    /// <summary>A new job id (<c>mmxjob_…</c>), for callers that need it before the job is created.</summary>
    public static string NewJobId(DateTimeOffset at) => "mmxjob_" + LedgerIds.New(at);
}
