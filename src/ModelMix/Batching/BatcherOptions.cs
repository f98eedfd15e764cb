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

    /// <summary>
    /// How many faults a job may meet — an answer about its Message Batch the batcher cannot use, a refused create, a
    /// result the upstream never returned, any unexpected failure while handling it — before it is quarantined: its
    /// requests not yet answered end <c>errored</c> (<c>batch_quarantined</c>) and it is never retried automatically.
    /// A collected batch clears the count. Transient answers (HTTP 5xx, 429, 401/403, no answer) do not count.
    /// </summary>
    public int MaxJobFailures { get; set; } = 5;

    /// <summary>The wait after a fault before the job (or its Message Batch) is tried again; it doubles with each fault, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest wait between two tries after faults.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long after its create call a Message Batch may go without being collected before the batcher gives up on
    /// it (default 36 h: the API's 24 h processing window plus 12 h for the upstream to recover). A batch still not
    /// <c>ended</c>, or whose poll or results keep failing — even with transient answers (5xx, 429, no answer), which
    /// never count towards <see cref="MaxJobFailures"/> — is given up on at its first poll past this age: its jobs are
    /// quarantined with the reason, so the upstream is not polled forever and their budget holds settle. Their
    /// requests waiting in it are billed: their results when the upstream hands them over, else the documented worst
    /// case (docs/batch.md, "Quarantine").
    /// </summary>
    public TimeSpan GiveUpAfter { get; set; } = TimeSpan.FromHours(36);

    /// <summary>What is wrong with these options, one line per setting, named as in configuration (<c>ModelMix:Batch:…</c>); empty when nothing is.</summary>
    public IReadOnlyList<string> Problems()
    {
        const string Section = "ModelMix:Batch:";
        var problems = new List<string>();
        if (MaxJobFailures is < 1 or > 1000)
        {
            problems.Add($"{Section}{nameof(MaxJobFailures)} must be between 1 and 1000 (it is {MaxJobFailures}).");
        }

        if (RetryDelay <= TimeSpan.Zero)
        {
            problems.Add($"{Section}{nameof(RetryDelay)} must be positive (it is {RetryDelay}).");
        }

        if (MaxRetryDelay < RetryDelay)
        {
            problems.Add($"{Section}{nameof(MaxRetryDelay)} must be at least {Section}{nameof(RetryDelay)} ({MaxRetryDelay} < {RetryDelay}).");
        }

        if (MaxRequestsPerBatch < 1)
        {
            problems.Add($"{Section}{nameof(MaxRequestsPerBatch)} must be at least 1 (it is {MaxRequestsPerBatch}).");
        }

        if (MaxBatchBytes < 1)
        {
            problems.Add($"{Section}{nameof(MaxBatchBytes)} must be positive (it is {MaxBatchBytes}).");
        }

        if (PollInterval < TimeSpan.Zero || MaxPollInterval < TimeSpan.Zero)
        {
            problems.Add($"{Section}{nameof(PollInterval)} and {Section}{nameof(MaxPollInterval)} must not be negative ({PollInterval}, {MaxPollInterval}).");
        }

        if (GiveUpAfter <= TimeSpan.Zero)
        {
            problems.Add($"{Section}{nameof(GiveUpAfter)} must be positive (it is {GiveUpAfter}).");
        }

        if (IdleInterval <= TimeSpan.Zero)
        {
            problems.Add($"{Section}{nameof(IdleInterval)} must be positive (it is {IdleInterval}).");
        }

        return problems;
    }

    /// <summary>The wait before the next try after the <paramref name="failures"/>-th fault in a row: <see cref="RetryDelay"/> doubling, at most <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelayAfter(int failures)
    {
        var first = RetryDelay > TimeSpan.Zero ? RetryDelay : TimeSpan.FromSeconds(1);
        var max = MaxRetryDelay >= first ? MaxRetryDelay : first;
        var doublings = Math.Clamp(failures - 1, 0, 40);
        var ticks = first.Ticks * Math.Pow(2, doublings);
        return ticks >= max.Ticks ? max : TimeSpan.FromTicks((long)ticks);
    }
}
