namespace ModelMix.Batching;

/// <summary>
/// The durable batch queue: jobs, their requests and the Message Batches submitted for them. Every state change is
/// one transaction, so a restart finds exactly what was queued, what was sent and what was collected. SQLite
/// (<c>SqliteBatchStore</c>) or PostgreSQL (<c>ModelMix.Postgres.PostgresBatchStore</c>, shared by several
/// processes, which also implements <see cref="IBatchLeadership"/>).
/// </summary>
public interface IBatchStore : IAsyncDisposable
{
    /// <summary>Creates or upgrades the store's tables.</summary>
    Task MigrateAsync(CancellationToken cancellationToken = default);

    /// <summary>Queues a job; with an idempotency key already used by the same key id, returns that job instead (Created false).</summary>
    Task<(BatchJob Job, bool Created)> CreateJobAsync(BatchJobInput input, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>The job and its counts, or null when unknown.</summary>
    Task<BatchJob?> GetJobAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>The job's items in order (with results where ended).</summary>
    Task<IReadOnlyList<BatchItem>> GetItemsAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes queued items, oldest first, up to <paramref name="maxCount"/> and <paramref name="maxParamsBytes"/> of params,
    /// and stores them as one <c>submitting</c> submission (in one transaction). Null when nothing is queued. Items of
    /// canceled or quarantined jobs, and of jobs whose <see cref="BatchJob.RetryAt"/> is after <paramref name="at"/>, are
    /// skipped; a job with faults (<see cref="BatchJob.Failures"/> &gt; 0) goes in a submission of its own, so a poisoned
    /// job cannot take other jobs' requests down with it again.
    /// </summary>
    Task<(BatchSubmission Submission, IReadOnlyList<BatchItem> Items)?> BeginSubmissionAsync(string submissionId, int maxCount, long maxParamsBytes, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Stores the upstream id of a submission (state <c>in_progress</c>) and when to poll it first.</summary>
    Task SetUpstreamIdAsync(string submissionId, string upstreamId, DateTimeOffset nextPollAt, TimeSpan pollDelay, CancellationToken cancellationToken = default);

    /// <summary>Gives a submission's items back to the queue and deletes it (the create call surely failed).</summary>
    Task AbandonSubmissionAsync(string submissionId, CancellationToken cancellationToken = default);

    /// <summary>Submissions not yet collected nor closed (<c>submitting</c> or <c>in_progress</c>).</summary>
    Task<IReadOnlyList<BatchSubmission>> GetOpenSubmissionsAsync(CancellationToken cancellationToken = default);

    /// <summary>Every upstream batch id ModelMix knows (for reconciling a submission whose create call may have succeeded).</summary>
    Task<IReadOnlySet<string>> GetKnownUpstreamIdsAsync(CancellationToken cancellationToken = default);

    /// <summary>Schedules the next poll of a submission.</summary>
    Task SetNextPollAsync(string submissionId, DateTimeOffset nextPollAt, TimeSpan pollDelay, CancellationToken cancellationToken = default);

    /// <summary>The items of a submission still waiting for a result.</summary>
    Task<IReadOnlyList<BatchItem>> GetSubmittedItemsAsync(string submissionId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Marks the job canceled and, in one transaction, cancels its queued requests (status <c>canceled</c>); returns
    /// those requests and the open upstream batches that hold only requests of canceled jobs (safe to cancel
    /// upstream). Null when the job is unknown. Requests of a canceled job are never submitted again.
    /// </summary>
    Task<BatchCancellation?> CancelJobAsync(string jobId, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Canceled jobs with queued requests (requests that came back to the queue after the cancel).</summary>
    Task<IReadOnlyList<string>> GetCanceledJobsWithQueuedItemsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores the results of an ended submission, re-queues its items that had no result line, and marks it
    /// <c>collected</c> — one transaction.
    /// </summary>
    Task CompleteSubmissionAsync(string submissionId, IReadOnlyList<BatchResultLine> results, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records <paramref name="fault"/> against each of <paramref name="jobIds"/> (one transaction; unknown ids are
    /// ignored): <c>last_error</c> = the reason; when counted, <c>failures</c> + 1 and <c>retry_at</c> = the fault's time
    /// plus its retry delay for the new count. Returns each job's failure count after.
    /// </summary>
    Task<IReadOnlyList<(string JobId, int Failures)>> RecordFaultAsync(IReadOnlyCollection<string> jobIds, BatchFault fault, CancellationToken cancellationToken = default);

    /// <summary>Clears the failure count (and retry time) of jobs that made progress; a quarantined job stays quarantined.</summary>
    Task ResetFailuresAsync(IReadOnlyCollection<string> jobIds, CancellationToken cancellationToken = default);

    /// <summary>
    /// Quarantines a job, in one transaction: <c>quarantined_at</c> (kept from the first time) and <c>last_error</c> =
    /// <paramref name="reason"/>; its queued requests — and, with <paramref name="submissionId"/>, its requests waiting
    /// in that submission — become <c>errored</c> with <paramref name="result"/>; that submission, when it is left
    /// holding nothing to wait for, is closed (state <c>failed</c>). Its requests in other submissions are collected as
    /// usual. A quarantined job's requests are never submitted again. Null when the job is unknown; repeating it is harmless.
    /// </summary>
    Task<BatchQuarantine?> QuarantineJobAsync(string jobId, string reason, string result, string? submissionId, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Quarantined jobs with queued requests (requests that came back to the queue after the quarantine).</summary>
    Task<IReadOnlyList<string>> GetQuarantinedJobsWithQueuedItemsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Marks a submission with an upstream batch whose quarantined requests were charged their worst case: its results
    /// are looked for until <paramref name="until"/> to correct them (<see cref="BatchSubmission.CorrectUntil"/>; an
    /// earlier mark is kept).
    /// </summary>
    Task MarkForCorrectionAsync(string submissionId, DateTimeOffset until, CancellationToken cancellationToken = default);

    /// <summary>Closed (<c>failed</c>) submissions still marked for correction.</summary>
    Task<IReadOnlyList<BatchSubmission>> GetCorrectionsAsync(CancellationToken cancellationToken = default);

    /// <summary>The requests of a submission marked for correction that a quarantine ended <c>errored</c> (none when it is not marked).</summary>
    Task<IReadOnlyList<BatchItem>> GetCorrectableItemsAsync(string submissionId, CancellationToken cancellationToken = default);

    /// <summary>Clears a submission's correction mark (its results were read, or the batcher stopped looking).</summary>
    Task EndCorrectionAsync(string submissionId, CancellationToken cancellationToken = default);

    /// <summary>Whether a request of the job sits in a submission marked for correction (its budget settles after the correction).</summary>
    Task<bool> IsCorrectionPendingAsync(string jobId, CancellationToken cancellationToken = default);
}
