using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Batching;

/// <summary>
/// Moves queued requests through the Message Batches API: creates batches (within the API's size limits), polls them
/// with back-off, downloads the results, matches them to requests by <c>custom_id</c>, records each in the ledger at
/// the batch price and stores it for the job. All state is in the <see cref="IBatchStore"/>, so a restarted batcher
/// resumes where the last one stopped. No request is sent twice: a submission is stored before its create call, and
/// one whose outcome is unknown (crash, lost answer) is reconciled against the upstream's batch list on start.
/// Ledger records use the request's own id, so collecting the same results twice records them once.
/// <para>
/// Faults are isolated: whatever goes wrong while handling one submission or job — an error answer, an answer it
/// cannot use (a missing or unknown field, a repeated batch id, garbage), a results file with bad lines or missing
/// results, any unexpected exception — is recorded against the jobs concerned (<see cref="BatchJob.LastError"/>) and
/// the pass moves on to the others. Transient trouble (HTTP 5xx, 429, no answer) is retried with back-off; other
/// faults also count, and a job that reaches <see cref="BatcherOptions.MaxJobFailures"/> is quarantined: its
/// unanswered requests end <c>errored</c> (<see cref="QuarantinedErrorType"/>, with the reason) and it is never
/// retried automatically. One bad result line errors that request alone (<see cref="InvalidResultErrorType"/>). A
/// Message Batch not collected <see cref="BatcherOptions.GiveUpAfter"/> after its create call — transient answers
/// included — is given up on: its jobs are quarantined, so nothing is polled forever.
/// </para>
/// </summary>
public sealed partial class Batcher : IDisposable
{
    /// <summary>The error type of a request ended by its job's quarantine (its result, and its ledger record's <c>error_type</c>).</summary>
    public const string QuarantinedErrorType = "batch_quarantined";

    /// <summary>The error type of a request whose result line the batcher could not read (its result and ledger record).</summary>
    public const string InvalidResultErrorType = "batch_invalid_result";

    private const int MaxReasonLength = 1000;

    private readonly IBatchStore _store;
    private readonly MessageBatchesClient _api;
    private readonly AttemptRecorder _recorder;
    private readonly BatcherOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private int _createTrouble; // creates refused or unanswered in a row (transient): the next ones wait
    private DateTimeOffset _createsPausedUntil;
    private int _loopTrouble;
    private readonly Dictionary<string, int> _correctionFaults = new(StringComparer.Ordinal); // counted faults per submission being corrected (one loop: no lock)

    /// <summary>Creates a batcher.</summary>
    public Batcher(IBatchStore store, MessageBatchesClient api, AttemptRecorder recorder, BatcherOptions options, TimeProvider time, ILogger<Batcher> logger)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(recorder);
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _api = api;
        _recorder = recorder;
        _options = options;
        _time = time ?? TimeProvider.System;
        _logger = logger;
    }

    /// <summary>
    /// Called once a job has a result for every request (after its results are in the ledger and the store), e.g. to
    /// settle the job's budget reservation. May be called more than once for a job (a crash and a second collection),
    /// so it must be idempotent. A failure is logged, never stops the batcher.
    /// </summary>
    public Func<BatchJob, CancellationToken, Task>? JobEnded { get; set; }

    /// <summary>Releases the wake-up signal.</summary>
    public void Dispose() => _wake.Dispose();

    /// <summary>Wakes the loop early (a job was queued).</summary>
    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    /// <summary>
    /// Reconciles unfinished submissions, then loops until <paramref name="cancellationToken"/> fires. It returns only
    /// then: a failed pass (the store unreachable, …) is logged and the next one waits longer, doubling up to
    /// <see cref="BatcherOptions.MaxRetryDelay"/>.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await ReconcileAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception exception) when (!IsFatal(exception))
        {
            LogLoopFailed(_logger, exception, _options.IdleInterval);
        }

        while (!cancellationToken.IsCancellationRequested)
        {
            var wait = _options.IdleInterval;
            try
            {
                await RunOnceAsync(cancellationToken);
                _loopTrouble = 0;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (!IsFatal(exception))
            {
                _loopTrouble++;
                var ticks = Math.Min(_options.IdleInterval.Ticks * (1L << Math.Min(_loopTrouble, 20)), Math.Max(_options.MaxRetryDelay.Ticks, _options.IdleInterval.Ticks));
                wait = TimeSpan.FromTicks(Math.Max(ticks, _options.IdleInterval.Ticks));
                LogLoopFailed(_logger, exception, wait);
            }

            try
            {
                await _wake.WaitAsync(wait, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One pass: submit what is queued, poll what is due, collect what ended. A fault of one job or submission is recorded against it; the pass goes on.</summary>
    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        // Requests of a canceled job that came back to the queue (a batch ended without their result) are canceled too.
        foreach (var jobId in await _store.GetCanceledJobsWithQueuedItemsAsync(cancellationToken))
        {
            await IsolatedAsync(jobId, () => CancelAsync(jobId, cancellationToken), cancellationToken);
        }

        // Likewise, requests of a quarantined job that came back to the queue end errored as the rest of it did.
        foreach (var jobId in await _store.GetQuarantinedJobsWithQueuedItemsAsync(cancellationToken))
        {
            await IsolatedAsync(jobId, async () =>
            {
                var job = await _store.GetJobAsync(jobId, cancellationToken);
                await QuarantineAsync(jobId, job?.LastError ?? "quarantined", job?.Failures ?? 0, null, cancellationToken);
            }, cancellationToken);
        }

        await SubmitQueuedAsync(cancellationToken);
        await PollAsync(cancellationToken);
        await CorrectAsync(cancellationToken);
    }

    /// <summary>
    /// Settles submissions left in <c>submitting</c> by a process that died around its create call: a batch the
    /// upstream lists, created since, of the same size, that no submission claims, is adopted; when there is none
    /// the create never happened and the requests go back to the queue. A submission that cannot be settled now (the
    /// list fails or lies) is a fault of its jobs, tried again later.
    /// </summary>
    public async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        foreach (var submission in await _store.GetOpenSubmissionsAsync(cancellationToken))
        {
            if (submission.UpstreamId is not null)
            {
                continue;
            }

            try
            {
                await SettleUnknownCreateAsync(submission, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception exception) when (!IsFatal(exception) && PastGiveUp(submission))
            {
                // Transient trouble never counts towards quarantine, so without this a batch whose polls answer 5xx
                // forever would be polled forever.
                await GiveUpAfterFaultAsync(submission, exception, cancellationToken);
            }
            catch (Exception exception) when (!IsFatal(exception))
            {
                await SubmissionFaultAsync(submission, exception, cancellationToken);
            }
        }
    }

    /// <summary>Whether <paramref name="submission"/> is older than <see cref="BatcherOptions.GiveUpAfter"/> (from its create call).</summary>
    private bool PastGiveUp(BatchSubmission submission) => _time.GetUtcNow() - submission.CreatedAt >= _options.GiveUpAfter;

    private async Task GiveUpAfterFaultAsync(BatchSubmission submission, Exception exception, CancellationToken cancellationToken)
    {
        var where = submission.UpstreamId is { } id ? $"Message Batch {id}" : $"submission {submission.Id}";
        LogSubmissionFault(_logger, exception, where, "past ModelMix:Batch:GiveUpAfter, given up");
        await GiveUpAsync(submission, $"{where} got no usable answer {Age(submission)} after its create call; the last: {Describe(exception)}", cancellationToken);
    }

    private string Age(BatchSubmission submission) =>
        (_time.GetUtcNow() - submission.CreatedAt).ToString(@"d\.hh\:mm\:ss", System.Globalization.CultureInfo.InvariantCulture)
        + $" (ModelMix:Batch:GiveUpAfter is {_options.GiveUpAfter.ToString("c", System.Globalization.CultureInfo.InvariantCulture)})";

    private static string Describe(Exception exception) =>
        exception is MessageBatchesAnswerException or MessageBatchesException ? exception.Message : $"{exception.GetType().Name}: {exception.Message}";

    /// <summary>
    /// Gives up on a submission past <see cref="BatcherOptions.GiveUpAfter"/>: each job with requests waiting in it is
    /// quarantined with <paramref name="reason"/> (its requests there end errored, billed as
    /// <see cref="QuarantineAsync"/> says), which closes the submission and cancels its batch upstream, best effort.
    /// Never throws, except when stopping.
    /// </summary>
    private async Task GiveUpAsync(BatchSubmission submission, string reason, CancellationToken cancellationToken)
    {
        try
        {
            if (await TryCollectBeforeQuarantineAsync(submission.Id, cancellationToken))
            {
                return; // its results were there after all: collected
            }

            var jobIds = (await _store.GetSubmittedItemsAsync(submission.Id, CancellationToken.None)).Select(i => i.JobId).Distinct(StringComparer.Ordinal).ToList();
            foreach (var jobId in jobIds)
            {
                var job = await _store.GetJobAsync(jobId, CancellationToken.None);
                await QuarantineAsync(jobId, Shorten(reason, MaxReasonLength), job?.Failures ?? 0, submission.Id, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception failure) when (!IsFatal(failure))
        {
            LogFaultNotRecorded(_logger, failure, submission.Id);
        }
    }

    /// <summary>Adopts the upstream batch of a submission whose create outcome is unknown, or gives its requests back to the queue (quarantining jobs out of tries).</summary>
    private async Task SettleUnknownCreateAsync(BatchSubmission submission, CancellationToken cancellationToken)
    {
        var known = await _store.GetKnownUpstreamIdsAsync(cancellationToken);
        var adopted = await FindUpstreamAsync(submission, known, cancellationToken);
        if (adopted is not null)
        {
            LogAdopted(_logger, submission.Id, adopted);
            await _store.SetUpstreamIdAsync(submission.Id, adopted, _time.GetUtcNow(), _options.PollInterval, CancellationToken.None);
            return;
        }

        LogRequeued(_logger, submission.Id);
        var jobIds = (await _store.GetSubmittedItemsAsync(submission.Id, CancellationToken.None)).Select(i => i.JobId).Distinct(StringComparer.Ordinal).ToList();
        await _store.AbandonSubmissionAsync(submission.Id, CancellationToken.None);
        foreach (var jobId in jobIds)
        {
            // Back in the queue: a job out of tries is not sent again.
            if (await _store.GetJobAsync(jobId, CancellationToken.None) is { QuarantinedAt: null } job && job.Failures >= _options.MaxJobFailures)
            {
                await QuarantineAsync(jobId, job.LastError ?? "quarantined", job.Failures, null, cancellationToken);
            }
        }
    }

    private async Task<string?> FindUpstreamAsync(BatchSubmission submission, IReadOnlySet<string> known, CancellationToken cancellationToken)
    {
        var since = submission.CreatedAt - TimeSpan.FromMinutes(5); // clock skew between us and the API
        string? after = null;
        for (var page = 0; page < 50; page++)
        {
            var list = await _api.ListAsync(after, 100, cancellationToken);
            if (!list.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
            {
                throw new MessageBatchesAnswerException("the Message Batches list answer has no \"data\" array");
            }

            var older = false;
            foreach (var batch in data.EnumerateArray())
            {
                if (batch.ValueKind != JsonValueKind.Object
                    || !batch.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.String || idElement.GetString() is not { Length: > 0 } id
                    || !batch.TryGetProperty("created_at", out var createdElement) || createdElement.ValueKind != JsonValueKind.String || !createdElement.TryGetDateTimeOffset(out var created)
                    || !batch.TryGetProperty("request_counts", out var counts) || counts.ValueKind != JsonValueKind.Object)
                {
                    continue; // an entry it cannot read is never adopted
                }

                if (created < since)
                {
                    older = true;
                    break;
                }

                long total = 0;
                foreach (var count in counts.EnumerateObject())
                {
                    total += count.Value.ValueKind == JsonValueKind.Number && count.Value.TryGetInt64(out var n) ? n : 0;
                }

                if (!known.Contains(id) && total == submission.Count)
                {
                    return id;
                }
            }

            if (older
                || !list.TryGetProperty("has_more", out var more) || more.ValueKind != JsonValueKind.True
                || !list.TryGetProperty("last_id", out var lastElement) || lastElement.ValueKind != JsonValueKind.String || lastElement.GetString() is not { Length: > 0 } last)
            {
                return null;
            }

            after = last;
        }

        return null;
    }

    private async Task SubmitQueuedAsync(CancellationToken cancellationToken)
    {
        if (_time.GetUtcNow() < _createsPausedUntil)
        {
            return; // the upstream refused or did not answer the last creates: wait before the next
        }

        var maxCount = Math.Clamp(_options.MaxRequestsPerBatch, 1, BatcherOptions.ApiMaxRequests);
        // Keep room for the envelope: {"requests":[…]} plus ~60 bytes of custom_id and keys per request.
        var maxBytes = Math.Min(_options.MaxBatchBytes, BatcherOptions.ApiMaxBytes) - 1024 - (64L * maxCount);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var now = _time.GetUtcNow();
            var taken = await _store.BeginSubmissionAsync("mmxsub_" + LedgerIds.New(now), maxCount, Math.Max(1, maxBytes), now, cancellationToken);
            if (taken is not { } submission)
            {
                return;
            }

            if (!await CreateAsync(submission.Submission, submission.Items, cancellationToken))
            {
                return;
            }
        }
    }

    /// <summary>Creates one submission's batch upstream; false when the upstream is in trouble and this pass should stop creating.</summary>
    private async Task<bool> CreateAsync(BatchSubmission submission, IReadOnlyList<BatchItem> items, CancellationToken cancellationToken)
    {
        var jobIds = items.Select(i => i.JobId).Distinct(StringComparer.Ordinal).ToList();
        JsonElement created;
        try
        {
            created = await _api.CreateAsync(items, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw; // stopping: the submission stays 'submitting' and is reconciled on the next start
        }
        catch (MessageBatchesException exception)
        {
            // An error answer: nothing was created upstream. The requests go back to the queue.
            var transient = IsTransient(exception);
            LogCreateRefused(_logger, exception, submission.Id);
            var counts = await _store.RecordFaultAsync(jobIds, Fault($"the Message Batches API refused the create: {exception.Message}", !transient), CancellationToken.None);
            await _store.AbandonSubmissionAsync(submission.Id, CancellationToken.None);
            await QuarantineDueAsync(counts, null, cancellationToken);
            return KeepCreating(transient);
        }
        catch (Exception exception) when (!IsFatal(exception))
        {
            // No usable answer: the batch may or may not exist upstream. Reconcile against the list before anything else.
            var transient = IsTransient(exception);
            LogCreateUnknown(_logger, exception, submission.Id);
            await _store.RecordFaultAsync(jobIds, Fault($"the create call for submission {submission.Id} got no usable answer: {exception.Message}", !transient), CancellationToken.None);
            await SettleOrDeferAsync(submission, cancellationToken);
            return KeepCreating(transient);
        }

        _createTrouble = 0;
        var problem = !created.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.String || idElement.GetString() is not { Length: > 0 }
            ? "the create answer has no \"id\""
            : null;
        var upstreamId = problem is null ? idElement.GetString()! : null;
        if (upstreamId is not null && (await _store.GetKnownUpstreamIdsAsync(cancellationToken)).Contains(upstreamId))
        {
            problem = $"the create answer repeats batch id {upstreamId}, which another submission already holds";
        }

        if (problem is not null)
        {
            // Something was probably created upstream, under an id we do not have: find it in the list, as after a crash.
            LogCreateAnswerUnusable(_logger, submission.Id, problem);
            await _store.RecordFaultAsync(jobIds, Fault($"submission {submission.Id}: {problem}", counted: true), CancellationToken.None);
            await SettleOrDeferAsync(submission, cancellationToken);
            return true;
        }

        await _store.SetUpstreamIdAsync(submission.Id, upstreamId!, _time.GetUtcNow() + _options.PollInterval, _options.PollInterval, CancellationToken.None);
        LogSubmitted(_logger, upstreamId!, items.Count);
        return true;
    }

    /// <summary>Settles a create of unknown outcome now, or — when the list cannot tell — records that fault and leaves it for a later pass.</summary>
    private async Task SettleOrDeferAsync(BatchSubmission submission, CancellationToken cancellationToken)
    {
        try
        {
            await SettleUnknownCreateAsync(submission, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception exception) when (!IsFatal(exception))
        {
            await SubmissionFaultAsync(submission, exception, cancellationToken);
        }
    }

    /// <summary>
    /// After a failed create: a fault of the jobs in it (they wait their own retry time) lets the pass create the next
    /// submission; transient trouble upstream pauses every create (back-off doubling up to
    /// <see cref="BatcherOptions.MaxRetryDelay"/>) and ends this pass's creates.
    /// </summary>
    private bool KeepCreating(bool transient)
    {
        if (!transient)
        {
            return true;
        }

        _createTrouble++;
        _createsPausedUntil = _time.GetUtcNow() + _options.RetryDelayAfter(_createTrouble);
        return false;
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        foreach (var submission in await _store.GetOpenSubmissionsAsync(cancellationToken))
        {
            if (submission.NextPollAt > _time.GetUtcNow())
            {
                continue;
            }

            try
            {
                if (submission.UpstreamId is not { } upstreamId)
                {
                    // Left 'submitting' (its create's outcome could not be settled yet): try the list again.
                    await SettleUnknownCreateAsync(submission, cancellationToken);
                    continue;
                }

                var batch = await _api.RetrieveAsync(upstreamId, cancellationToken);
                var status = batch.TryGetProperty("processing_status", out var statusElement) && statusElement.ValueKind == JsonValueKind.String ? statusElement.GetString() : null;
                switch (status)
                {
                    case "ended":
                        await CollectAsync(submission, upstreamId, cancellationToken);
                        break;
                    case "in_progress" or "canceling" when PastGiveUp(submission):
                        await GiveUpAsync(submission, $"Message Batch {upstreamId} is still {status} {Age(submission)} after its create call", cancellationToken);
                        break;
                    case "in_progress" or "canceling":
                        var delay = TimeSpan.FromTicks(Math.Min(Math.Max(submission.PollDelay.Ticks, _options.PollInterval.Ticks) * 2, _options.MaxPollInterval.Ticks));
                        await _store.SetNextPollAsync(submission.Id, _time.GetUtcNow() + delay, delay, cancellationToken);
                        break;
                    case null:
                        throw new MessageBatchesAnswerException($"the batch object of {upstreamId} has no \"processing_status\"");
                    default:
                        throw new MessageBatchesAnswerException($"the batch object of {upstreamId} has an unknown processing_status '{Shorten(status, 60)}'");
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception exception) when (!IsFatal(exception) && PastGiveUp(submission))
            {
                // Transient trouble never counts towards quarantine, so without this a batch whose polls answer 5xx
                // forever would be polled forever.
                await GiveUpAfterFaultAsync(submission, exception, cancellationToken);
            }
            catch (Exception exception) when (!IsFatal(exception))
            {
                await SubmissionFaultAsync(submission, exception, cancellationToken);
            }
        }
    }

    /// <summary>
    /// A fault while handling a submission: recorded against each job with requests waiting in it (counted unless
    /// transient); jobs out of tries are quarantined (their requests in it end errored); when anything is left to wait
    /// for, the submission is tried again after a back-off. Never throws, except when stopping.
    /// </summary>
    private async Task SubmissionFaultAsync(BatchSubmission submission, Exception exception, CancellationToken cancellationToken)
    {
        try
        {
            var transient = IsTransient(exception);
            var where = submission.UpstreamId is { } upstreamId ? $"Message Batch {upstreamId}" : $"submission {submission.Id}";
            var reason = exception is MessageBatchesAnswerException or MessageBatchesException ? $"{where}: {exception.Message}" : $"{where}: {exception.GetType().Name}: {exception.Message}";
            LogSubmissionFault(_logger, exception, where, transient ? "transient, retried" : "counts towards quarantine");
            var jobIds = (await _store.GetSubmittedItemsAsync(submission.Id, CancellationToken.None)).Select(i => i.JobId).Distinct(StringComparer.Ordinal).ToList();
            var counts = await _store.RecordFaultAsync(jobIds, Fault(reason, !transient), CancellationToken.None);
            if (await QuarantineDueAsync(counts, submission.Id, cancellationToken))
            {
                return; // nothing left in it to wait for
            }

            var ceiling = Math.Max(_options.MaxRetryDelay.Ticks, _options.RetryDelay.Ticks);
            var delay = TimeSpan.FromTicks(Math.Clamp(submission.PollDelay.Ticks * 2, Math.Min(_options.RetryDelay.Ticks, ceiling), ceiling));
            await _store.SetNextPollAsync(submission.Id, _time.GetUtcNow() + delay, delay, CancellationToken.None);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception failure) when (!IsFatal(failure))
        {
            // Even recording the fault failed (the store is unreachable?): the submission is tried again next pass.
            LogFaultNotRecorded(_logger, failure, submission.Id);
        }
    }

    /// <summary>Quarantines the jobs of <paramref name="counts"/> that reached <see cref="BatcherOptions.MaxJobFailures"/>; true when that closed <paramref name="submissionId"/>.</summary>
    private async Task<bool> QuarantineDueAsync(IReadOnlyList<(string JobId, int Failures)> counts, string? submissionId, CancellationToken cancellationToken)
    {
        var closed = false;
        if (submissionId is not null && counts.Any(c => c.Failures >= _options.MaxJobFailures) && await TryCollectBeforeQuarantineAsync(submissionId, cancellationToken))
        {
            return true; // its results were there after all: collected, every job in it made progress
        }

        foreach (var (jobId, failures) in counts)
        {
            if (failures >= _options.MaxJobFailures)
            {
                var job = await _store.GetJobAsync(jobId, CancellationToken.None);
                closed |= await QuarantineAsync(jobId, job?.LastError ?? "quarantined", failures, submissionId, cancellationToken);
            }
        }

        return closed;
    }

    /// <summary>
    /// Quarantines a job: its queued requests (and those waiting in <paramref name="submissionId"/>) end errored with the
    /// reason — recorded in the ledger first, those that were waiting upstream at their worst case
    /// (<see cref="QuarantineRecord"/>), the queued ones at 0 — and it is never retried automatically. A batch left holding nothing to
    /// wait for is canceled upstream, best effort. True when <paramref name="submissionId"/> was closed.
    /// </summary>
    private async Task<bool> QuarantineAsync(string jobId, string reason, int failures, string? submissionId, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var result = ErrorResult(QuarantinedErrorType, failures > 0
            ? $"ModelMix quarantined this batch job after {failures} faults and will not retry it; the last: {reason}"
            : $"ModelMix quarantined this batch job and will not retry it: {reason}");
        var pending = (await _store.GetItemsAsync(jobId, CancellationToken.None)).Where(i => i.Status == "queued").ToList();
        var sent = new HashSet<string>(StringComparer.Ordinal);
        if (submissionId is not null)
        {
            var waiting = (await _store.GetSubmittedItemsAsync(submissionId, CancellationToken.None)).Where(i => i.JobId == jobId).ToList();
            pending.AddRange(waiting);
            sent.UnionWith(waiting.Select(i => i.Id));
        }

        // The ledger first (idempotent by record id), then the store: a crash in between quarantines again, records once.
        // A request waiting upstream may have been processed (and billed by Anthropic) though its result could not be
        // read: it is charged its documented worst case, flagged estimated. A queued one was never sent: 0.
        foreach (var item in pending)
        {
            await _recorder.RecordAsync(QuarantineRecord(item, now, result, sent.Contains(item.Id)), CancellationToken.None);
        }

        await _recorder.Ledger.FlushAsync(CancellationToken.None);
        if (submissionId is not null && sent.Count > 0 && _recorder.Ledger.Store is ILedgerCorrections)
        {
            // Those worst cases are corrected if the batch's results can be had later (a canceled batch still ends with
            // the results of what it processed): looked for until GiveUpAfter from now; the job's budget settles after.
            await _store.MarkForCorrectionAsync(submissionId, now + _options.GiveUpAfter, CancellationToken.None);
        }

        if (await _store.QuarantineJobAsync(jobId, reason, result, submissionId, now, CancellationToken.None) is not { } quarantine)
        {
            return false;
        }

        var recorded = pending.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var item in quarantine.Errored.Where(i => !recorded.Contains(i.Id)))
        {
            await _recorder.RecordAsync(QuarantineRecord(item, now, result, sent: false), CancellationToken.None);
            await _recorder.Ledger.FlushAsync(CancellationToken.None);
        }

        LogQuarantined(_logger, jobId, failures, quarantine.Errored.Count, reason);
        foreach (var (_, upstreamId) in quarantine.Closed)
        {
            if (upstreamId is null)
            {
                continue;
            }

            try
            {
                await _api.CancelAsync(upstreamId, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception exception) when (!IsFatal(exception))
            {
                LogCancelFailed(_logger, exception, upstreamId);
            }
        }

        await NotifyEndedAsync([jobId], cancellationToken);
        return submissionId is not null && quarantine.Closed.Any(c => c.SubmissionId == submissionId);
    }

    /// <summary>
    /// Before quarantining requests that wait in a Message Batch: tries once to collect that batch's results, in case
    /// the upstream processed them and only its status answers were unusable. True when it was collected (every
    /// request in it has its result and ledger record, billed as usual); false — logged — when the results cannot be
    /// had (the batch has not ended, or the upstream fails), and the requests are quarantined.
    /// </summary>
    private async Task<bool> TryCollectBeforeQuarantineAsync(string submissionId, CancellationToken cancellationToken)
    {
        if ((await _store.GetOpenSubmissionsAsync(CancellationToken.None)).FirstOrDefault(s => s.Id == submissionId) is not { UpstreamId: { } upstreamId } submission)
        {
            return false;
        }

        try
        {
            await CollectAsync(submission, upstreamId, cancellationToken);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception exception) when (!IsFatal(exception))
        {
            LogNoResultsBeforeQuarantine(_logger, exception, upstreamId);
            return false;
        }
    }

    /// <summary>
    /// The ledger record of a request ended by its job's quarantine. One that was <paramref name="sent"/> upstream in a
    /// batch whose results could not be read is charged <see cref="WorstCaseUsage"/>, flagged
    /// <see cref="LedgerRecord.UsageEstimated"/>; one never sent costs nothing.
    /// </summary>
    internal static LedgerRecord QuarantineRecord(BatchItem item, DateTimeOffset at, string result, bool sent)
    {
        var record = ToRecord(item, at, "errored", result);
        return sent ? record with { Usage = WorstCaseUsage(item.Params), UsageEstimated = true } : record;
    }

    /// <summary>
    /// The documented worst case of one batch request whose outcome upstream is unknown: its input estimated from its
    /// params as a budget hold estimates it (<see cref="UsageEstimate.Unanswered(ReadOnlySpan{byte}, long)"/>: one
    /// token per 4 bytes of JSON) and its whole <c>max_tokens</c> of output, at the batch tier.
    /// </summary>
    internal static TokenUsage WorstCaseUsage(byte[] parameters)
    {
        long maxTokens = 0;
        try
        {
            using var document = JsonDocument.Parse(parameters);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("max_tokens", out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var parsed))
            {
                maxTokens = parsed;
            }
        }
        catch (JsonException)
        {
            // Params are validated when the job is queued; an unreadable one is held for its input alone.
        }

        return UsageEstimate.Unanswered(parameters, maxTokens) with { ServiceTier = ServiceTier.Batch };
    }

    private async Task CollectAsync(BatchSubmission submission, string upstreamId, CancellationToken cancellationToken)
    {
        var items = (await _store.GetSubmittedItemsAsync(submission.Id, cancellationToken)).ToDictionary(i => i.Id, StringComparer.Ordinal);
        var estimated = (await _store.GetCorrectableItemsAsync(submission.Id, cancellationToken)).ToDictionary(i => i.Id, StringComparer.Ordinal);
        var corrections = new List<(string Id, TokenUsage Usage)>();
        var jobIds = items.Values.Select(i => i.JobId).Distinct(StringComparer.Ordinal).ToList();
        var lines = new List<BatchResultLine>(items.Count);
        var unreadable = 0;
        var strangers = 0;
        await foreach (var entry in _api.ReadResultsAsync(upstreamId, cancellationToken))
        {
            if (entry.CustomId is not { } customId)
            {
                unreadable++; // a line that names no request: nothing to match it to
                continue;
            }

            if (!items.Remove(customId, out var item))
            {
                if (estimated.Remove(customId, out var quarantined) && ReportedUsage(quarantined, entry) is { } reported)
                {
                    corrections.Add((quarantined.Id, reported)); // quarantined while waiting in it, charged its worst case
                }
                else
                {
                    strangers++; // not ours, or already collected
                }

                continue;
            }

            var (type, result) = (entry.Type, entry.Result);
            LedgerRecord? record = null;
            var problem = entry.Problem ?? ResultProblem(type!, result!);
            if (problem is null)
            {
                try
                {
                    record = ToRecord(item, submission.CreatedAt, type!, result!);
                }
                catch (Exception exception) when (!IsFatal(exception))
                {
                    problem = $"{exception.GetType().Name}: {exception.Message}";
                }
            }

            if (record is null)
            {
                // This one answer cannot be read: this request ends errored, with the reason; the others are collected.
                LogInvalidResult(_logger, upstreamId, item.Id, problem!);
                (type, result) = ("errored", ErrorResult(InvalidResultErrorType, $"ModelMix could not read the upstream's result for this request: {problem}"));
                record = ToRecord(item, submission.CreatedAt, type, result);
            }

            await _recorder.RecordAsync(record, cancellationToken);
            lines.Add(new BatchResultLine(item.Id, type!, result!));
        }

        // The ledger first (idempotent by record id), then the item states: a crash in between collects again, records once.
        await _recorder.Ledger.FlushAsync(cancellationToken);

        // Jobs whose every request came back made progress: their failure count is reset before the item states are
        // stored, so no reader sees a job ended with the failures of its earlier polls still counted.
        var missing = items.Values.GroupBy(i => i.JobId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        await _store.ResetFailuresAsync(jobIds.Where(j => !missing.ContainsKey(j)).ToList(), CancellationToken.None);
        await _store.CompleteSubmissionAsync(submission.Id, lines, CancellationToken.None);
        LogCollected(_logger, upstreamId, lines.Count, items.Count);
        if (unreadable + strangers > 0)
        {
            LogSkippedLines(_logger, upstreamId, unreadable, strangers);
        }

        // Requests without a result went back to the queue; the API returns one line per request, so it is a fault of their jobs.
        if (missing.Count > 0)
        {
            var reason = $"Message Batch {upstreamId} returned no result for {items.Count} request(s); they were queued again";
            var counts = await _store.RecordFaultAsync(missing.Keys, Fault(reason, counted: true), CancellationToken.None);
            await QuarantineDueAsync(counts, null, cancellationToken);
        }
        if (submission.CorrectUntil is not null || corrections.Count > 0 || estimated.Count > 0)
        {
            await EndCorrectionAsync(submission, upstreamId, corrections, cancellationToken);
        }

        await NotifyEndedAsync(jobIds, cancellationToken);
    }

    /// <summary>
    /// Looks for the results of Message Batches closed by a quarantine while requests of theirs were charged their worst
    /// case (<see cref="BatchSubmission.CorrectUntil"/>): once such a batch has ended, its results correct those
    /// requests' ledger records to the usage the upstream reported (0 for <c>canceled</c>, <c>expired</c> and
    /// <c>errored</c>), and their jobs' budgets settle to it. Past <see cref="BatchSubmission.CorrectUntil"/>, or after
    /// <see cref="BatcherOptions.MaxJobFailures"/> answers it cannot use, it stops looking and the worst cases stand.
    /// </summary>
    private async Task CorrectAsync(CancellationToken cancellationToken)
    {
        foreach (var submission in await _store.GetCorrectionsAsync(cancellationToken))
        {
            if (submission.NextPollAt > _time.GetUtcNow() || submission.UpstreamId is not { } upstreamId)
            {
                continue;
            }

            try
            {
                if (_time.GetUtcNow() >= submission.CorrectUntil || _recorder.Ledger.Store is not ILedgerCorrections)
                {
                    LogCorrectionAbandoned(_logger, upstreamId, "no usable results before ModelMix:Batch:GiveUpAfter ran out");
                    await EndCorrectionAsync(submission, upstreamId, [], cancellationToken);
                    continue;
                }

                var batch = await _api.RetrieveAsync(upstreamId, cancellationToken);
                var status = batch.TryGetProperty("processing_status", out var statusElement) && statusElement.ValueKind == JsonValueKind.String ? statusElement.GetString() : null;
                switch (status)
                {
                    case "ended":
                        var estimated = (await _store.GetCorrectableItemsAsync(submission.Id, cancellationToken)).ToDictionary(i => i.Id, StringComparer.Ordinal);
                        var corrections = new List<(string Id, TokenUsage Usage)>();
                        await foreach (var entry in _api.ReadResultsAsync(upstreamId, cancellationToken))
                        {
                            if (entry.CustomId is { } customId && estimated.Remove(customId, out var item) && ReportedUsage(item, entry) is { } reported)
                            {
                                corrections.Add((item.Id, reported));
                            }
                        }

                        await EndCorrectionAsync(submission, upstreamId, corrections, cancellationToken);
                        break;
                    case "in_progress" or "canceling":
                        var delay = TimeSpan.FromTicks(Math.Min(Math.Max(submission.PollDelay.Ticks, _options.PollInterval.Ticks) * 2, _options.MaxPollInterval.Ticks));
                        await _store.SetNextPollAsync(submission.Id, _time.GetUtcNow() + delay, delay, cancellationToken);
                        break;
                    default:
                        throw new MessageBatchesAnswerException($"the batch object of {upstreamId} has {(status is null ? "no \"processing_status\"" : $"an unknown processing_status '{Shorten(status, 60)}'")}");
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception exception) when (!IsFatal(exception))
            {
                await CorrectionFaultAsync(submission, upstreamId, exception, cancellationToken);
            }
        }
    }

    /// <summary>A fault while looking for a closed batch's results: tried again after a back-off; after MaxJobFailures counted ones, given up.</summary>
    private async Task CorrectionFaultAsync(BatchSubmission submission, string upstreamId, Exception exception, CancellationToken cancellationToken)
    {
        try
        {
            var faults = IsTransient(exception) ? _correctionFaults.GetValueOrDefault(submission.Id) : _correctionFaults[submission.Id] = _correctionFaults.GetValueOrDefault(submission.Id) + 1;
            LogCorrectionFault(_logger, exception, upstreamId);
            if (faults >= _options.MaxJobFailures)
            {
                LogCorrectionAbandoned(_logger, upstreamId, $"{faults} unusable answers; the last: {Describe(exception)}");
                await EndCorrectionAsync(submission, upstreamId, [], cancellationToken);
                return;
            }

            var ceiling = Math.Max(_options.MaxRetryDelay.Ticks, _options.RetryDelay.Ticks);
            var delay = TimeSpan.FromTicks(Math.Clamp(submission.PollDelay.Ticks * 2, Math.Min(_options.RetryDelay.Ticks, ceiling), ceiling));
            await _store.SetNextPollAsync(submission.Id, _time.GetUtcNow() + delay, delay, CancellationToken.None);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception failure) when (!IsFatal(failure))
        {
            LogFaultNotRecorded(_logger, failure, submission.Id);
        }
    }

    /// <summary>
    /// Corrects the estimated ledger records of <paramref name="corrections"/> to the reported usage (one transaction,
    /// rollups included; records no longer estimated are skipped), clears the submission's mark, and settles the jobs
    /// concerned. A request without a usable result line keeps its worst case.
    /// </summary>
    private async Task EndCorrectionAsync(BatchSubmission submission, string upstreamId, List<(string Id, TokenUsage Usage)> corrections, CancellationToken cancellationToken)
    {
        var jobIds = (await _store.GetCorrectableItemsAsync(submission.Id, CancellationToken.None)).Select(i => i.JobId).Distinct(StringComparer.Ordinal).ToList();
        if (corrections.Count > 0 && _recorder.Ledger.Store is ILedgerCorrections ledger)
        {
            var corrected = await ledger.CorrectEstimatesAsync(
                corrections,
                r => _recorder.TryCost(r.RoutedModel, r.ResponseModel, r.Usage, r.Timestamp, out var cost) ? cost : null,
                CancellationToken.None);
            LogCorrected(_logger, upstreamId, corrected);
        }

        await _store.EndCorrectionAsync(submission.Id, CancellationToken.None);
        _correctionFaults.Remove(submission.Id);
        await NotifyEndedAsync(jobIds, cancellationToken);
    }

    /// <summary>The usage a results line reports for a request: its answer's usage at the batch tier, or nothing for a request that did not run; null when the line cannot be read.</summary>
    private static TokenUsage? ReportedUsage(BatchItem item, BatchResultEntry entry)
    {
        if (entry.Problem is not null || entry.Type is not { } type || entry.Result is not { } result || ResultProblem(type, result) is not null)
        {
            return null;
        }

        try
        {
            return ToRecord(item, DateTimeOffset.UnixEpoch, type, result).Usage;
        }
        catch (Exception exception) when (!IsFatal(exception))
        {
            return null;
        }
    }

    /// <summary>What makes a well-formed line's result unusable, or null: an unknown type, a succeeded result without a message and its usage.</summary>
    internal static string? ResultProblem(string type, string result)
    {
        switch (type)
        {
            case "errored" or "canceled" or "expired":
                return null;
            case "succeeded":
                using (var document = JsonDocument.Parse(result))
                {
                    if (!document.RootElement.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
                    {
                        return "a succeeded result without a message";
                    }

                    return message.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object
                        ? null
                        : "a succeeded result whose message has no usage (message.usage)";
                }

            default:
                return $"an unknown result type '{Shorten(type, 60)}'";
        }
    }

    /// <summary>A result object in the API's errored shape: <c>{"type":"errored","error":{"type":"error","error":{"type":…,"message":…}}}</c>.</summary>
    public static string ErrorResult(string errorType, string message) => new JsonObject
    {
        ["type"] = "errored",
        ["error"] = new JsonObject
        {
            ["type"] = "error",
            ["error"] = new JsonObject { ["type"] = errorType, ["message"] = message },
        },
    }.ToJsonString();

    /// <summary>
    /// Whether a failure says nothing about the job: the upstream overloaded, rate limiting, refusing our key, or not
    /// answering at all. Such failures are retried with back-off and never quarantine anything.
    /// </summary>
    internal static bool IsTransient(Exception exception) => exception switch
    {
        MessageBatchesException { Status: 401 or 403 or 408 or 409 or 429 or >= 500 } => true,
        MessageBatchesException => false,
        MessageBatchesAnswerException => false,
        HttpRequestException or IOException or TimeoutException or OperationCanceledException => true,
        _ => false,
    };

    private static bool IsFatal(Exception exception) => exception is OutOfMemoryException or StackOverflowException or AccessViolationException;

    private BatchFault Fault(string reason, bool counted) => new(Shorten(reason, MaxReasonLength), counted, _time.GetUtcNow(), _options.RetryDelayAfter);

    private static string Shorten(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";

    /// <summary>Runs a job's own step; a failure is logged and left for the next pass, never stops the pass.</summary>
    private async Task IsolatedAsync(string jobId, Func<Task> step, CancellationToken cancellationToken)
    {
        try
        {
            await step();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception exception) when (!IsFatal(exception))
        {
            LogJobStepFailed(_logger, exception, jobId);
        }
    }

    /// <summary>
    /// Cancels a job: its queued requests are canceled at once (recorded in the ledger as <c>batch_canceled</c>, cost 0);
    /// the Message Batches holding its sent requests are canceled upstream when they hold nothing else, and their
    /// results — <c>canceled</c> for what was not processed yet — are collected as usual. Null when the job is unknown.
    /// Canceling again is harmless.
    /// </summary>
    public async Task<BatchJob?> CancelAsync(string jobId, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (await _store.CancelJobAsync(jobId, now, cancellationToken) is not { } cancellation)
        {
            return null;
        }

        foreach (var item in cancellation.Canceled)
        {
            await _recorder.RecordAsync(ToRecord(item, now, "canceled", BatchIds.CanceledResult), CancellationToken.None);
        }

        await _recorder.Ledger.FlushAsync(CancellationToken.None);
        foreach (var (submissionId, upstreamId) in cancellation.Upstream)
        {
            try
            {
                await _api.CancelAsync(upstreamId, cancellationToken);
                await _store.SetNextPollAsync(submissionId, now, _options.PollInterval, CancellationToken.None); // collect soon
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception exception) when (!IsFatal(exception))
            {
                // The batch still ends within 24 h and is collected as usual; its requests are simply not canceled.
                LogCancelFailed(_logger, exception, upstreamId);
            }
        }

        LogCanceled(_logger, jobId, cancellation.Canceled.Count, cancellation.Upstream.Count);
        Wake();
        await NotifyEndedAsync([jobId], cancellationToken);
        return await _store.GetJobAsync(jobId, cancellationToken);
    }

    /// <summary>Calls <see cref="JobEnded"/> for each of <paramref name="jobIds"/> that has ended.</summary>
    internal async Task NotifyEndedAsync(IEnumerable<string> jobIds, CancellationToken cancellationToken)
    {
        if (JobEnded is not { } ended)
        {
            return;
        }

        foreach (var jobId in jobIds)
        {
            if (await _store.GetJobAsync(jobId, cancellationToken) is { ProcessingStatus: "ended" } job
                && !await _store.IsCorrectionPendingAsync(jobId, cancellationToken))
            {
                try
                {
                    await ended(job, cancellationToken);
                }
                catch (Exception exception) when (exception is not OutOfMemoryException and not OperationCanceledException)
                {
                    LogJobEndedFailed(_logger, exception, jobId);
                }
            }
        }
    }

    /// <summary>The ledger record of one result: usage at the batch tier, or the error / cancel / expiry as an error record.</summary>
    internal static LedgerRecord ToRecord(BatchItem item, DateTimeOffset submittedAt, string type, string result)
    {
        var record = new LedgerRecord
        {
            Id = item.Id,
            Timestamp = submittedAt,
            RequestId = item.JobId, // the job is the request a budget reservation is held for
            SessionId = item.SessionId,
            KeyId = item.KeyId,
            TaskLabel = item.TaskLabel,
            RequestedModel = item.RequestedModel,
            RoutedModel = item.RoutedModel,
            Policy = item.Policy,
            Reason = item.Reason,
            Usage = new TokenUsage(0, 0, ServiceTier: ServiceTier.Batch),
        };
        using var document = JsonDocument.Parse(result);
        var root = document.RootElement;
        switch (type)
        {
            case "succeeded":
            {
                var message = root.GetProperty("message");
                var usage = AnthropicUsage.FromJson(message.GetProperty("usage")) with { ServiceTier = ServiceTier.Batch };
                return record with
                {
                    Usage = usage,
                    ResponseModel = message.TryGetProperty("model", out var model) ? model.GetString() : null,
                    HttpStatus = 200,
                    Status = LedgerStatus.Ok,
                };
            }

            case "errored":
            {
                var errorType = root.TryGetProperty("error", out var body) && body.TryGetProperty("error", out var inner) && inner.TryGetProperty("type", out var t)
                    ? t.GetString()
                    : "api_error";
                return record with { Status = LedgerStatus.Error, ErrorType = errorType, HttpStatus = errorType == "invalid_request_error" ? 400 : 500 };
            }

            default:
                return record with { Status = LedgerStatus.Error, ErrorType = "batch_" + type };
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Message Batch {BatchId}: {Count} quarantined requests charged their worst case were corrected to the usage its results report")]
    private static partial void LogCorrected(ILogger logger, string batchId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Looking for the results of Message Batch {BatchId} to correct worst-case charges failed; tried again later")]
    private static partial void LogCorrectionFault(ILogger logger, Exception exception, string batchId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message Batch {BatchId}: stopped looking for its results ({Why}); its quarantined requests keep their worst-case charges (usage_estimated)")]
    private static partial void LogCorrectionAbandoned(ILogger logger, string batchId, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Settling batch job {JobId} after it ended failed; its budget reservation is reclaimed when it expires")]
    private static partial void LogJobEndedFailed(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The results of Message Batch {BatchId} could not be read before quarantining its requests; those requests are charged their worst case (usage_estimated)")]
    private static partial void LogNoResultsBeforeQuarantine(ILogger logger, Exception exception, string batchId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Canceling Message Batch {BatchId} upstream failed; it is collected when it ends")]
    private static partial void LogCancelFailed(ILogger logger, Exception exception, string batchId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Canceled batch job {JobId}: {Queued} queued requests canceled, {Batches} Message Batches canceled upstream")]
    private static partial void LogCanceled(ILogger logger, string jobId, int queued, int batches);

    [LoggerMessage(Level = LogLevel.Error, Message = "Batcher pass failed; it tries again in {Delay}")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch fault on {Where} ({Handling})")]
    private static partial void LogSubmissionFault(ILogger logger, Exception exception, string where, string handling);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording a fault of submission {SubmissionId} failed; it is tried again on the next pass")]
    private static partial void LogFaultNotRecorded(ILogger logger, Exception exception, string submissionId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Batch job {JobId} quarantined after {Failures} faults: {Count} unanswered requests ended errored (batch_quarantined) and it will not be retried. Last fault: {Reason}")]
    private static partial void LogQuarantined(ILogger logger, string jobId, int failures, int count, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message Batch {BatchId}: the result for request {ItemId} could not be read ({Problem}); that request ends errored (batch_invalid_result)")]
    private static partial void LogInvalidResult(ILogger logger, string batchId, string itemId, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message Batch {BatchId}: skipped {Unreadable} results lines that name no request and {Strangers} that name a request not waiting in it")]
    private static partial void LogSkippedLines(ILogger logger, string batchId, int unreadable, int strangers);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message Batch create for submission {SubmissionId} answered something unusable ({Problem}); reconciling with the upstream's batch list")]
    private static partial void LogCreateAnswerUnusable(ILogger logger, string submissionId, string problem);

    [LoggerMessage(Level = LogLevel.Error, Message = "A step of batch job {JobId} failed; it is tried again on the next pass")]
    private static partial void LogJobStepFailed(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Submission {SubmissionId} was found upstream as {BatchId} (its create call had no recorded answer); adopted")]
    private static partial void LogAdopted(ILogger logger, string submissionId, string batchId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Submission {SubmissionId} was never created upstream; its requests are queued again")]
    private static partial void LogRequeued(ILogger logger, string submissionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message Batch create for submission {SubmissionId} was refused; its requests are queued again")]
    private static partial void LogCreateRefused(ILogger logger, Exception exception, string submissionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message Batch create for submission {SubmissionId} got no answer; reconciling with the upstream's batch list")]
    private static partial void LogCreateUnknown(ILogger logger, Exception exception, string submissionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Submitted Message Batch {BatchId} with {Count} requests")]
    private static partial void LogSubmitted(ILogger logger, string batchId, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Collected Message Batch {BatchId}: {Count} results, {Missing} requests without a result queued again")]
    private static partial void LogCollected(ILogger logger, string batchId, int count, int missing);
}
