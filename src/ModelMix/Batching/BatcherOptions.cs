namespace ModelMix.Batching;

/// <summary>How the batcher sizes, submits and polls Message Batches (configuration section <c>ModelMix:Batch</c>).</summary>
public sealed class BatcherOptions
{
    /// <summary>The API's limit on requests per Message Batch.</summary>
    public const int ApiMaxRequests = 100_000;

    /// <summary>The API's limit on the size of one create call (256 MB).</summary>
    public const long ApiMaxBytes = 256L * 1024 * 1024;

    /// <summary>Most requests per Message Batch (at most the API's 100,000).</summary>
    public int MaxRequestsPerBatch { get; set; } = ApiMaxRequests;

    /// <summary>Most bytes of one create body (at most the API's 256 MB; a margin is kept for the envelope).</summary>
    public long MaxBatchBytes { get; set; } = ApiMaxBytes;

    /// <summary>The first wait before polling a new batch; each poll that finds it still running doubles the wait.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest wait between two polls of one batch.</summary>
    public TimeSpan MaxPollInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long the loop sleeps when there is nothing to do (it wakes early when a job is queued).</summary>
    public TimeSpan IdleInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// With a shared store (PostgreSQL), how often a standby replica tries to become the working batcher, and how
    /// often the working one checks it still is (<see cref="BatcherLeadership"/>).
    /// </summary>
    public TimeSpan LeaderCheckInterval { get; set; } = TimeSpan.FromSeconds(5);
}
