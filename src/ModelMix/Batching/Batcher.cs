using System.Text.Json;
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
/// </summary>
public sealed partial class Batcher : IDisposable
{
    private readonly IBatchStore _store;
    private readonly MessageBatchesClient _api;
    private readonly AttemptRecorder _recorder;
    private readonly BatcherOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _wake = new(0, 1);

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

    /// <summary>Reconciles unfinished submissions, then loops until <paramref name="cancellationToken"/> fires.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await ReconcileAsync(cancellationToken);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (exception is HttpRequestException or MessageBatchesException or JsonException or IOException or TaskCanceledException)
            {
                LogLoopFailed(_logger, exception);
            }

            try
            {
                await _wake.WaitAsync(_options.IdleInterval, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One pass: submit what is queued, poll what is due, collect what ended.</summary>
    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        // Requests of a canceled job that came back to the queue (a batch ended without their result) are canceled too.
        foreach (var jobId in await _store.GetCanceledJobsWithQueuedItemsAsync(cancellationToken))
        {
            await CancelAsync(jobId, cancellationToken);
        }

        await SubmitQueuedAsync(cancellationToken);
        await PollAsync(cancellationToken);
    }

    /// <summary>
    /// Settles submissions left in <c>submitting</c> by a process that died around its create call: a batch the
    /// upstream lists, created since, of the same size, that no submission claims, is adopted; when there is none
    /// the create never happened and the requests go back to the queue.
    /// </summary>
    public async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        foreach (var submission in await _store.GetOpenSubmissionsAsync(cancellationToken))
        {
            if (submission.UpstreamId is not null)
            {
                continue;
            }

            var known = await _store.GetKnownUpstreamIdsAsync(cancellationToken);
            var adopted = await FindUpstreamAsync(submission, known, cancellationToken);
            if (adopted is not null)
            {
                LogAdopted(_logger, submission.Id, adopted);
                await _store.SetUpstreamIdAsync(submission.Id, adopted, _time.GetUtcNow(), _options.PollInterval, cancellationToken);
            }
            else
            {
                LogRequeued(_logger, submission.Id);
                await _store.AbandonSubmissionAsync(submission.Id, cancellationToken);
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
            var older = false;
            foreach (var batch in list.GetProperty("data").EnumerateArray())
            {
                var id = batch.GetProperty("id").GetString()!;
                if (batch.GetProperty("created_at").GetDateTimeOffset() < since)
                {
                    older = true;
                    break;
                }

                var counts = batch.GetProperty("request_counts");
                long total = 0;
                foreach (var count in counts.EnumerateObject())
                {
                    total += count.Value.GetInt64();
                }

                if (!known.Contains(id) && total == submission.Count)
                {
                    return id;
                }
            }

            if (older || !list.GetProperty("has_more").GetBoolean() || list.GetProperty("last_id").GetString() is not { } last)
            {
                return null;
            }

            after = last;
        }

        return null;
    }

    private async Task SubmitQueuedAsync(CancellationToken cancellationToken)
    {
        var maxCount = Math.Clamp(_options.MaxRequestsPerBatch, 1, BatcherOptions.ApiMaxRequests);
        // Keep room for the envelope: {"requests":[…]} plus ~60 bytes of custom_id and keys per request.
        var maxBytes = Math.Min(_options.MaxBatchBytes, BatcherOptions.ApiMaxBytes) - 1024 - (64L * maxCount);
        while (true)
        {
            var now = _time.GetUtcNow();
            var taken = await _store.BeginSubmissionAsync("mmxsub_" + LedgerIds.New(now), maxCount, Math.Max(1, maxBytes), now, cancellationToken);
            if (taken is not { } submission)
            {
                return;
            }

            JsonElement created;
            try
            {
                created = await _api.CreateAsync(submission.Items, cancellationToken);
            }
            catch (MessageBatchesException exception)
            {
                // An error answer: nothing was created upstream. The requests go back to the queue for the next pass.
                LogCreateRefused(_logger, exception, submission.Submission.Id);
                await _store.AbandonSubmissionAsync(submission.Submission.Id, CancellationToken.None);
                throw;
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or IOException)
            {
                // No answer: the batch may or may not exist upstream. Reconcile against the list before anything else.
                LogCreateUnknown(_logger, exception, submission.Submission.Id);
                await ReconcileAsync(cancellationToken);
                return;
            }

            var upstreamId = created.GetProperty("id").GetString()!;
            await _store.SetUpstreamIdAsync(submission.Submission.Id, upstreamId, _time.GetUtcNow() + _options.PollInterval, _options.PollInterval, CancellationToken.None);
            LogSubmitted(_logger, upstreamId, submission.Items.Count);
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        foreach (var submission in await _store.GetOpenSubmissionsAsync(cancellationToken))
        {
            if (submission.UpstreamId is not { } upstreamId || submission.NextPollAt > _time.GetUtcNow())
            {
                continue;
            }

            var batch = await _api.RetrieveAsync(upstreamId, cancellationToken);
            if (batch.GetProperty("processing_status").GetString() != "ended")
            {
                var delay = TimeSpan.FromTicks(Math.Min(Math.Max(submission.PollDelay.Ticks, _options.PollInterval.Ticks) * 2, _options.MaxPollInterval.Ticks));
                await _store.SetNextPollAsync(submission.Id, _time.GetUtcNow() + delay, delay, cancellationToken);
                continue;
            }

            await CollectAsync(submission, upstreamId, cancellationToken);
        }
    }

    private async Task CollectAsync(BatchSubmission submission, string upstreamId, CancellationToken cancellationToken)
    {
        var items = (await _store.GetSubmittedItemsAsync(submission.Id, cancellationToken)).ToDictionary(i => i.Id, StringComparer.Ordinal);
        var jobIds = items.Values.Select(i => i.JobId).Distinct(StringComparer.Ordinal).ToList();
        var lines = new List<BatchResultLine>(items.Count);
        await foreach (var (customId, type, result) in _api.ResultsAsync(upstreamId, cancellationToken))
        {
            if (!items.Remove(customId, out var item))
            {
                continue; // not ours, or already collected
            }

            await _recorder.RecordAsync(ToRecord(item, submission.CreatedAt, type, result), cancellationToken);
            lines.Add(new BatchResultLine(item.Id, type, result));
        }

        // The ledger first (idempotent by record id), then the item states: a crash in between collects again, records once.
        await _recorder.Ledger.FlushAsync(cancellationToken);
        await _store.CompleteSubmissionAsync(submission.Id, lines, CancellationToken.None);
        LogCollected(_logger, upstreamId, lines.Count, items.Count);
        await NotifyEndedAsync(jobIds, cancellationToken);
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
            await _recorder.RecordAsync(ToRecord(item, now, "canceled", SqliteBatchStore.CanceledResult), CancellationToken.None);
        }

        await _recorder.Ledger.FlushAsync(CancellationToken.None);
        foreach (var (submissionId, upstreamId) in cancellation.Upstream)
        {
            try
            {
                await _api.CancelAsync(upstreamId, cancellationToken);
                await _store.SetNextPollAsync(submissionId, now, _options.PollInterval, CancellationToken.None); // collect soon
            }
            catch (Exception exception) when (exception is MessageBatchesException or HttpRequestException or TaskCanceledException or IOException)
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
            if (await _store.GetJobAsync(jobId, cancellationToken) is { ProcessingStatus: "ended" } job)
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Settling batch job {JobId} after it ended failed; its budget reservation is reclaimed when it expires")]
    private static partial void LogJobEndedFailed(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Canceling Message Batch {BatchId} upstream failed; it is collected when it ends")]
    private static partial void LogCancelFailed(ILogger logger, Exception exception, string batchId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Canceled batch job {JobId}: {Queued} queued requests canceled, {Batches} Message Batches canceled upstream")]
    private static partial void LogCanceled(ILogger logger, string jobId, int queued, int batches);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batcher pass failed; it will try again")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);

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
