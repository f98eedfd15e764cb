using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using ModelMix.Batching;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Pipeline;

namespace ModelMix.Tests.Batching;

/// <summary>The pieces of the batcher's fault isolation that need no upstream: settings, back-off, reading results, classifying failures.</summary>
public sealed class BatchFaultTests
{
    [Fact]
    public void The_defaults_quarantine_after_5_faults_and_retry_from_30_s_doubling_to_10_min()
    {
        var options = new BatcherOptions();
        Assert.Empty(options.Problems());
        Assert.Equal(5, options.MaxJobFailures);
        Assert.Equal([30, 60, 120, 240, 480, 600, 600], Enumerable.Range(1, 7).Select(n => options.RetryDelayAfter(n).TotalSeconds));
        Assert.Equal(TimeSpan.FromMinutes(10), options.RetryDelayAfter(int.MaxValue));
    }

    [Theory]
    [InlineData(nameof(BatcherOptions.MaxJobFailures), "ModelMix:Batch:MaxJobFailures must be between 1 and 1000")]
    [InlineData(nameof(BatcherOptions.RetryDelay), "ModelMix:Batch:RetryDelay must be positive")]
    [InlineData(nameof(BatcherOptions.MaxRetryDelay), "ModelMix:Batch:MaxRetryDelay must be at least ModelMix:Batch:RetryDelay")]
    [InlineData(nameof(BatcherOptions.IdleInterval), "ModelMix:Batch:IdleInterval must be positive")]
    [InlineData(nameof(BatcherOptions.GiveUpAfter), "ModelMix:Batch:GiveUpAfter must be positive")]
    public void Settings_the_batcher_cannot_work_with_are_named(string setting, string problem)
    {
        var options = new BatcherOptions();
        switch (setting)
        {
            case nameof(BatcherOptions.MaxJobFailures):
                options.MaxJobFailures = 0;
                break;
            case nameof(BatcherOptions.RetryDelay):
                options.RetryDelay = TimeSpan.Zero;
                break;
            case nameof(BatcherOptions.MaxRetryDelay):
                options.MaxRetryDelay = TimeSpan.FromSeconds(1);
                break;
            case nameof(BatcherOptions.GiveUpAfter):
                options.GiveUpAfter = TimeSpan.Zero;
                break;
            default:
                options.IdleInterval = TimeSpan.Zero;
                break;
        }

        Assert.StartsWith(problem, Assert.Single(options.Problems()), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"Summarize ticket a."}]}""", 27, 64)] // 105 bytes: ⌈105/4⌉ = 27
    [InlineData("""{"max_tokens":1000}""", 5, 1000)] // 19 bytes: ⌈19/4⌉ = 5
    [InlineData("""{"max_tokens":"lots"}""", 6, 0)] // 21 bytes; no readable max_tokens: input alone
    [InlineData("not json", 2, 0)] // 8 bytes
    public void A_quarantined_request_that_was_sent_is_estimated_at_its_input_and_whole_max_tokens_at_the_batch_tier(string parameters, long input, long output)
    {
        var usage = Batcher.WorstCaseUsage(System.Text.Encoding.UTF8.GetBytes(parameters));

        Assert.Equal((input, output, ServiceTier.Batch), (usage.InputTokens, usage.OutputTokens, usage.ServiceTier));
    }

    [Theory]
    [InlineData("not json", null, "line 3 of the results is not JSON")]
    [InlineData("[1,2]", null, "line 3 of the results has no custom_id")]
    [InlineData("""{"custom_id":42,"result":{"type":"succeeded"}}""", null, "line 3 of the results has no custom_id")]
    [InlineData("""{"custom_id":"","result":{"type":"succeeded"}}""", null, "line 3 of the results has no custom_id")]
    [InlineData("""{"custom_id":"r1"}""", "r1", "the results line for this request (line 3) has no result object")]
    [InlineData("""{"custom_id":"r1","result":"ok"}""", "r1", "the results line for this request (line 3) has no result object")]
    [InlineData("""{"custom_id":"r1","result":{"message":{}}}""", "r1", "the result for this request (line 3) has no type")]
    public void A_results_line_that_cannot_be_used_is_reported_not_thrown(string line, string? customId, string problem)
    {
        var entry = MessageBatchesClient.ParseResultLine(line, 3);
        Assert.Equal((customId, problem), (entry.CustomId, entry.Problem));
    }

    [Fact]
    public void A_well_formed_results_line_gives_its_custom_id_type_and_raw_result()
    {
        var entry = MessageBatchesClient.ParseResultLine("""{"custom_id":"r1","result":{"type":"expired"}}""", 1);
        Assert.Equal(new BatchResultEntry("r1", "expired", """{"type":"expired"}""", null), entry);
    }

    [Theory]
    [InlineData("succeeded", """{"type":"succeeded","message":{"usage":{"input_tokens":1,"output_tokens":2}}}""", null)]
    [InlineData("succeeded", """{"type":"succeeded"}""", "a succeeded result without a message")]
    [InlineData("succeeded", """{"type":"succeeded","message":"hi"}""", "a succeeded result without a message")]
    [InlineData("succeeded", """{"type":"succeeded","message":{}}""", "a succeeded result whose message has no usage (message.usage)")]
    [InlineData("errored", """{"type":"errored"}""", null)]
    [InlineData("canceled", """{"type":"canceled"}""", null)]
    [InlineData("expired", """{"type":"expired"}""", null)]
    [InlineData("exploded", """{"type":"exploded"}""", "an unknown result type 'exploded'")]
    public void A_result_the_batcher_cannot_record_is_named(string type, string result, string? problem) =>
        Assert.Equal(problem, Batcher.ResultProblem(type, result));

    [Fact]
    public void The_result_of_an_errored_request_has_the_APIs_shape_and_records_its_error_type()
    {
        var result = Batcher.ErrorResult(Batcher.QuarantinedErrorType, "why \"quoted\"");
        var node = JsonNode.Parse(result)!;
        Assert.Equal(("errored", "error", "batch_quarantined", "why \"quoted\""), (node["type"]!.GetValue<string>(), node["error"]!["type"]!.GetValue<string>(), node["error"]!["error"]!["type"]!.GetValue<string>(), node["error"]!["error"]!["message"]!.GetValue<string>()));
        var item = new BatchItem { Id = "r1", JobId = "mmxjob_1", CustomId = "c", Params = [], RequestedModel = "m", RoutedModel = "m", Status = "errored" };
        var record = Batcher.ToRecord(item, DateTimeOffset.UnixEpoch, "errored", result);
        Assert.Equal((LedgerStatus.Error, "batch_quarantined", "mmxjob_1"), (record.Status, record.ErrorType, record.RequestId));
    }

    [Theory]
    [InlineData(500, true)]
    [InlineData(503, true)]
    [InlineData(529, true)]
    [InlineData(429, true)]
    [InlineData(408, true)]
    [InlineData(401, true)] // our key, not the job
    [InlineData(403, true)]
    [InlineData(400, false)]
    [InlineData(404, false)]
    [InlineData(413, false)]
    public void Error_answers_that_say_nothing_about_the_job_are_transient(int status, bool transient) =>
        Assert.Equal(transient, Batcher.IsTransient(new MessageBatchesException(status, "x")));

    [Fact]
    public void No_answer_is_transient_and_an_unusable_answer_or_an_unexpected_exception_is_not()
    {
        Assert.True(Batcher.IsTransient(new HttpRequestException("refused")));
        Assert.True(Batcher.IsTransient(new TaskCanceledException("timeout")));
        Assert.True(Batcher.IsTransient(new IOException("reset")));
        Assert.False(Batcher.IsTransient(new MessageBatchesAnswerException("no processing_status")));
        Assert.False(Batcher.IsTransient(new JsonException("garbage")));
        Assert.False(Batcher.IsTransient(new KeyNotFoundException("id")));
        Assert.False(Batcher.IsTransient(new InvalidOperationException("UNIQUE constraint failed")));
    }

    [Fact]
    public void A_submission_keeps_a_job_with_faults_apart_from_the_others()
    {
        var healthyFirst = new SubmissionPicker(100);
        foreach (var (id, job, failures) in new[] { ("h1", "A", 0), ("p1", "P", 2), ("h2", "B", 0), ("p2", "P", 2), ("h3", "C", 0) })
        {
            Assert.True(healthyFirst.Offer(id, 10, job, failures));
        }

        Assert.Equal(["h1", "h2", "h3"], healthyFirst.Taken);

        var poisonedFirst = new SubmissionPicker(100);
        foreach (var (id, job, failures) in new[] { ("p1", "P", 1), ("h1", "A", 0), ("p2", "P", 1), ("q1", "Q", 3) })
        {
            Assert.True(poisonedFirst.Offer(id, 10, job, failures));
        }

        Assert.Equal(["p1", "p2"], poisonedFirst.Taken);

        var bytes = new SubmissionPicker(15);
        Assert.True(bytes.Offer("big", 100, "A", 0)); // the first always goes, however large
        Assert.False(bytes.Offer("next", 1, "A", 0));
        Assert.Equal(["big"], bytes.Taken);
    }

    [Fact]
    public async Task The_loop_outlives_a_store_that_fails_and_returns_only_when_stopped()
    {
        var path = Path.Combine(Path.GetTempPath(), "modelmix-batchfault-" + Guid.NewGuid().ToString("N") + ".db");
        try
        {
            await using var store = new FlakyStore(new SqliteBatchStore(path), failures: 3);
            using var http = new HttpClient(new Refusing());
            var api = new MessageBatchesClient(http, new Uri("http://upstream.invalid"), "k");
            var logger = new ListLogger();
            var options = new BatcherOptions { IdleInterval = TimeSpan.FromMilliseconds(5), MaxRetryDelay = TimeSpan.FromMilliseconds(20), RetryDelay = TimeSpan.FromMilliseconds(10) };
            using var batcher = new Batcher(store, api, new AttemptRecorder(PriceBook.Default, new RecordingLedger()), options, TimeProvider.System, logger);
            using var stop = new CancellationTokenSource();

            var run = batcher.RunAsync(stop.Token);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (store.Calls < 6)
            {
                Assert.False(run.IsCompleted, "the loop ended: " + run.Exception);
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "the loop stopped passing");
                await Task.Delay(10);
            }

            Assert.Equal(3, logger.Errors.Count(e => e.Contains("Batcher pass failed", StringComparison.Ordinal)));
            await stop.CancelAsync();
            await run; // ends quietly when stopped
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            File.Delete(path);
        }
    }

    /// <summary>Answers every upstream call with a 500.</summary>
    private sealed class Refusing : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.InternalServerError) { Content = new StringContent("{}") });
    }

    private sealed class ListLogger : ILogger<Batcher>
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _errors = new();

        public IReadOnlyList<string> Errors => [.. _errors];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error)
            {
                _errors.Enqueue(formatter(state, exception));
            }
        }
    }

    /// <summary>A store whose first pass-opening read fails <c>failures</c> times (the database went away), then works.</summary>
    private sealed class FlakyStore(IBatchStore inner, int failures) : IBatchStore
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public Task<IReadOnlyList<string>> GetCanceledJobsWithQueuedItemsAsync(CancellationToken cancellationToken = default) =>
            Interlocked.Increment(ref _calls) <= failures ? throw new InvalidOperationException("database is locked") : inner.GetCanceledJobsWithQueuedItemsAsync(cancellationToken);

        public Task MigrateAsync(CancellationToken cancellationToken = default) => inner.MigrateAsync(cancellationToken);

        public Task<(BatchJob Job, bool Created)> CreateJobAsync(BatchJobInput input, DateTimeOffset at, CancellationToken cancellationToken = default) => inner.CreateJobAsync(input, at, cancellationToken);

        public Task<BatchJob?> GetJobAsync(string jobId, CancellationToken cancellationToken = default) => inner.GetJobAsync(jobId, cancellationToken);

        public Task<IReadOnlyList<BatchItem>> GetItemsAsync(string jobId, CancellationToken cancellationToken = default) => inner.GetItemsAsync(jobId, cancellationToken);

        public Task<(BatchSubmission Submission, IReadOnlyList<BatchItem> Items)?> BeginSubmissionAsync(string submissionId, int maxCount, long maxParamsBytes, DateTimeOffset at, CancellationToken cancellationToken = default) =>
            inner.BeginSubmissionAsync(submissionId, maxCount, maxParamsBytes, at, cancellationToken);

        public Task SetUpstreamIdAsync(string submissionId, string upstreamId, DateTimeOffset nextPollAt, TimeSpan pollDelay, CancellationToken cancellationToken = default) =>
            inner.SetUpstreamIdAsync(submissionId, upstreamId, nextPollAt, pollDelay, cancellationToken);

        public Task AbandonSubmissionAsync(string submissionId, CancellationToken cancellationToken = default) => inner.AbandonSubmissionAsync(submissionId, cancellationToken);

        public Task<IReadOnlyList<BatchSubmission>> GetOpenSubmissionsAsync(CancellationToken cancellationToken = default) => inner.GetOpenSubmissionsAsync(cancellationToken);

        public Task<IReadOnlySet<string>> GetKnownUpstreamIdsAsync(CancellationToken cancellationToken = default) => inner.GetKnownUpstreamIdsAsync(cancellationToken);

        public Task SetNextPollAsync(string submissionId, DateTimeOffset nextPollAt, TimeSpan pollDelay, CancellationToken cancellationToken = default) =>
            inner.SetNextPollAsync(submissionId, nextPollAt, pollDelay, cancellationToken);

        public Task<IReadOnlyList<BatchItem>> GetSubmittedItemsAsync(string submissionId, CancellationToken cancellationToken = default) => inner.GetSubmittedItemsAsync(submissionId, cancellationToken);

        public Task<BatchCancellation?> CancelJobAsync(string jobId, DateTimeOffset at, CancellationToken cancellationToken = default) => inner.CancelJobAsync(jobId, at, cancellationToken);

        public Task CompleteSubmissionAsync(string submissionId, IReadOnlyList<BatchResultLine> results, CancellationToken cancellationToken = default) =>
            inner.CompleteSubmissionAsync(submissionId, results, cancellationToken);

        public Task<IReadOnlyList<(string JobId, int Failures)>> RecordFaultAsync(IReadOnlyCollection<string> jobIds, BatchFault fault, CancellationToken cancellationToken = default) =>
            inner.RecordFaultAsync(jobIds, fault, cancellationToken);

        public Task ResetFailuresAsync(IReadOnlyCollection<string> jobIds, CancellationToken cancellationToken = default) => inner.ResetFailuresAsync(jobIds, cancellationToken);

        public Task<BatchQuarantine?> QuarantineJobAsync(string jobId, string reason, string result, string? submissionId, DateTimeOffset at, CancellationToken cancellationToken = default) =>
            inner.QuarantineJobAsync(jobId, reason, result, submissionId, at, cancellationToken);

        public Task<IReadOnlyList<string>> GetQuarantinedJobsWithQueuedItemsAsync(CancellationToken cancellationToken = default) => inner.GetQuarantinedJobsWithQueuedItemsAsync(cancellationToken);

        public Task MarkForCorrectionAsync(string submissionId, DateTimeOffset until, CancellationToken cancellationToken = default) => inner.MarkForCorrectionAsync(submissionId, until, cancellationToken);

        public Task<IReadOnlyList<BatchSubmission>> GetCorrectionsAsync(CancellationToken cancellationToken = default) => inner.GetCorrectionsAsync(cancellationToken);

        public Task<IReadOnlyList<BatchItem>> GetCorrectableItemsAsync(string submissionId, CancellationToken cancellationToken = default) => inner.GetCorrectableItemsAsync(submissionId, cancellationToken);

        public Task EndCorrectionAsync(string submissionId, CancellationToken cancellationToken = default) => inner.EndCorrectionAsync(submissionId, cancellationToken);

        public Task<bool> IsCorrectionPendingAsync(string jobId, CancellationToken cancellationToken = default) => inner.IsCorrectionPendingAsync(jobId, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
