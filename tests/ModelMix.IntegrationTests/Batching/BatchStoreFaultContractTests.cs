using ModelMix.Batching;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Stores;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Batching;

/// <summary>
/// The fault-isolation part of the <see cref="IBatchStore"/> contract — faults recorded per job, held-back and
/// isolated retries, quarantine, closing a submission left with nothing to wait for — on a SQLite file and on a real
/// PostgreSQL database.
/// </summary>
public abstract class BatchStoreFaultContractTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);
    private static readonly Func<int, TimeSpan> Doubling = n => TimeSpan.FromSeconds(10 * Math.Pow(2, n - 1));

    private string _setting = string.Empty;

    private IBatchStore Store { get; set; } = null!;

    protected abstract Task<string> CreateDatabaseAsync();

    protected abstract Task DeleteDatabaseAsync();

    public async Task InitializeAsync()
    {
        _setting = await CreateDatabaseAsync();
        Store = StoreLocation.Parse(_setting).CreateBatchStore();
        await Store.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await Store.DisposeAsync();
        await DeleteDatabaseAsync();
    }

    [Fact]
    public async Task A_new_job_has_no_faults()
    {
        var (job, _) = await Store.CreateJobAsync(new BatchJobInput { Items = BatchStoreContractTests.Items("n", 1) }, T0);
        Assert.Equal((0, (string?)null, (DateTimeOffset?)null, (DateTimeOffset?)null), (job.Failures, job.LastError, job.RetryAt, job.QuarantinedAt));
    }

    [Fact]
    public async Task A_counted_fault_holds_the_job_back_until_its_retry_time_and_then_it_goes_alone_while_an_uncounted_one_only_notes_the_reason()
    {
        var (poisoned, _) = await Store.CreateJobAsync(new BatchJobInput { Items = BatchStoreContractTests.Items("p", 2) }, T0);
        var (healthy, _) = await Store.CreateJobAsync(new BatchJobInput { Items = BatchStoreContractTests.Items("h", 2) }, T0.AddSeconds(1));

        var counts = await Store.RecordFaultAsync([poisoned.Id, "mmxjob_unknown"], new BatchFault("lie 1", Counted: true, T0.AddMinutes(1), Doubling));
        Assert.Equal([(poisoned.Id, 1)], counts);
        counts = await Store.RecordFaultAsync([poisoned.Id], new BatchFault("lie 2", Counted: true, T0.AddMinutes(2), Doubling));
        Assert.Equal([(poisoned.Id, 2)], counts);
        counts = await Store.RecordFaultAsync([poisoned.Id, healthy.Id], new BatchFault("HTTP 503", Counted: false, T0.AddMinutes(3), Doubling));
        Assert.Equal([(poisoned.Id, 2), (healthy.Id, 0)], counts.OrderBy(c => c.JobId == healthy.Id));

        var job = (await Store.GetJobAsync(poisoned.Id))!;
        Assert.Equal((2, "HTTP 503", T0.AddMinutes(2).AddSeconds(20)), (job.Failures, job.LastError, job.RetryAt));
        Assert.Equal((0, "HTTP 503", (DateTimeOffset?)null), ((await Store.GetJobAsync(healthy.Id))!.Failures, (await Store.GetJobAsync(healthy.Id))!.LastError, (await Store.GetJobAsync(healthy.Id))!.RetryAt));

        // Before its retry time the poisoned job is skipped; the healthy one goes.
        var first = (await Store.BeginSubmissionAsync("s1", 100, 1_000_000, T0.AddMinutes(2).AddSeconds(19)))!.Value;
        Assert.Equal(["h0", "h1"], first.Items.Select(i => i.CustomId));
        await Store.AbandonSubmissionAsync("s1");

        // After it, the oldest is the poisoned job: it goes alone; the healthy one in the next submission.
        var alone = (await Store.BeginSubmissionAsync("s2", 100, 1_000_000, T0.AddMinutes(3)))!.Value;
        Assert.Equal(["p0", "p1"], alone.Items.Select(i => i.CustomId));
        var rest = (await Store.BeginSubmissionAsync("s3", 100, 1_000_000, T0.AddMinutes(3)))!.Value;
        Assert.Equal(["h0", "h1"], rest.Items.Select(i => i.CustomId));

        // Progress clears the count (not the reason); the job mixes with others again.
        await Store.ResetFailuresAsync([poisoned.Id]);
        job = (await Store.GetJobAsync(poisoned.Id))!;
        Assert.Equal((0, "HTTP 503", (DateTimeOffset?)null), (job.Failures, job.LastError, job.RetryAt));
    }

    [Fact]
    public async Task A_healthy_first_job_takes_only_healthy_jobs_along()
    {
        var (healthy, _) = await Store.CreateJobAsync(new BatchJobInput { Items = BatchStoreContractTests.Items("h", 1) }, T0);
        var (poisoned, _) = await Store.CreateJobAsync(new BatchJobInput { Items = BatchStoreContractTests.Items("p", 1) }, T0.AddSeconds(1));
        var (late, _) = await Store.CreateJobAsync(new BatchJobInput { Items = BatchStoreContractTests.Items("l", 1) }, T0.AddSeconds(2));
        await Store.RecordFaultAsync([poisoned.Id], new BatchFault("lie", Counted: true, T0, _ => TimeSpan.Zero));

        var first = (await Store.BeginSubmissionAsync("s1", 100, 1_000_000, T0.AddMinutes(1)))!.Value;
        Assert.Equal(["h0", "l0"], first.Items.Select(i => i.CustomId));
        var second = (await Store.BeginSubmissionAsync("s2", 100, 1_000_000, T0.AddMinutes(1)))!.Value;
        Assert.Equal(["p0"], second.Items.Select(i => i.CustomId));
        Assert.Equal((healthy.Id, late.Id), (first.Items[0].JobId, first.Items[1].JobId));
    }

    [Fact]
    public async Task Quarantine_errors_the_jobs_queued_requests_and_those_in_the_named_submission_closes_it_when_empty_and_keeps_the_rest()
    {
        var (a, _) = await Store.CreateJobAsync(new BatchJobInput { Items = BatchStoreContractTests.Items("a", 3) }, T0);
        var (b, _) = await Store.CreateJobAsync(new BatchJobInput { Items = BatchStoreContractTests.Items("b", 1) }, T0.AddSeconds(1));

        // Batch 1 = a0 a1 (A alone), batch 2 = a2 b0 (shared); then a0 comes back to the queue (no result).
        await Store.BeginSubmissionAsync("s1", 2, 1_000_000, T0.AddMinutes(1));
        await Store.SetUpstreamIdAsync("s1", "msgbatch_1", T0.AddMinutes(1), TimeSpan.FromSeconds(30));
        await Store.BeginSubmissionAsync("s2", 2, 1_000_000, T0.AddMinutes(1));
        await Store.SetUpstreamIdAsync("s2", "msgbatch_2", T0.AddMinutes(1), TimeSpan.FromSeconds(30));
        var a1 = (await Store.GetSubmittedItemsAsync("s1")).Single(i => i.CustomId == "a1");
        await Store.CompleteSubmissionAsync("s1", [new BatchResultLine(a1.Id, "succeeded", "{\"type\":\"succeeded\"}")]);
        Assert.Equal(1L, (await Store.GetJobAsync(a.Id))!.Queued); // a0

        // Quarantined over batch 2: a0 (queued) and a2 (in batch 2) end errored; b0 still waits, so batch 2 stays open.
        var result = Batcher.ErrorResult(Batcher.QuarantinedErrorType, "the reason");
        var quarantine = (await Store.QuarantineJobAsync(a.Id, "the reason", result, "s2", T0.AddMinutes(5)))!;
        Assert.Equal(["a0", "a2"], quarantine.Errored.Select(i => i.CustomId).Order());
        Assert.Empty(quarantine.Closed);
        var job = (await Store.GetJobAsync(a.Id))!;
        Assert.Equal((T0.AddMinutes(5), "the reason", "ended", 1L, 2L), (job.QuarantinedAt, job.LastError, job.ProcessingStatus, job.Succeeded, job.Errored));
        Assert.All((await Store.GetItemsAsync(a.Id)).Where(i => i.Status == "errored"), i => Assert.Equal(result, i.Result));
        Assert.Equal(["s2"], (await Store.GetOpenSubmissionsAsync()).Select(s => s.Id));
        Assert.Equal(1L, (await Store.GetJobAsync(b.Id))!.Processing);

        // B quarantined over batch 2 too: nothing left to wait for in it, so it is closed and named with its upstream id.
        var closing = (await Store.QuarantineJobAsync(b.Id, "another", result, "s2", T0.AddMinutes(6)))!;
        Assert.Equal([("s2", (string?)"msgbatch_2")], closing.Closed);
        Assert.Empty(await Store.GetOpenSubmissionsAsync());
        Assert.Contains("msgbatch_2", await Store.GetKnownUpstreamIdsAsync()); // never adopted by a reconciliation

        // Again: harmless, keeps the first time; unknown job: null. Nothing of either is ever taken again.
        var again = (await Store.QuarantineJobAsync(a.Id, "later", result, null, T0.AddMinutes(9)))!;
        Assert.Empty(again.Errored);
        Assert.Equal((T0.AddMinutes(5), "later"), ((await Store.GetJobAsync(a.Id))!.QuarantinedAt, (await Store.GetJobAsync(a.Id))!.LastError));
        Assert.Null(await Store.QuarantineJobAsync("mmxjob_unknown", "x", result, null, T0));
        Assert.Null(await Store.BeginSubmissionAsync("s3", 100, 1_000_000, T0.AddHours(1)));
    }

    [Fact]
    public async Task A_quarantined_jobs_request_that_comes_back_to_the_queue_is_named_and_never_submitted_and_its_count_is_never_reset()
    {
        var (a, _) = await Store.CreateJobAsync(new BatchJobInput { Items = BatchStoreContractTests.Items("a", 2) }, T0);
        await Store.BeginSubmissionAsync("s1", 100, 1_000_000, T0.AddMinutes(1));
        await Store.SetUpstreamIdAsync("s1", "msgbatch_1", T0.AddMinutes(1), TimeSpan.FromSeconds(30));
        await Store.RecordFaultAsync([a.Id], new BatchFault("lie", Counted: true, T0, _ => TimeSpan.Zero));
        await Store.QuarantineJobAsync(a.Id, "lie", Batcher.ErrorResult(Batcher.QuarantinedErrorType, "lie"), null, T0.AddMinutes(2));
        Assert.Empty(await Store.GetQuarantinedJobsWithQueuedItemsAsync());

        await Store.CompleteSubmissionAsync("s1", []); // the batch ended without results: both back in the queue
        Assert.Equal([a.Id], await Store.GetQuarantinedJobsWithQueuedItemsAsync());
        Assert.Null(await Store.BeginSubmissionAsync("s2", 100, 1_000_000, T0.AddHours(1)));
        await Store.ResetFailuresAsync([a.Id]);
        Assert.Equal(1, (await Store.GetJobAsync(a.Id))!.Failures);

        await Store.QuarantineJobAsync(a.Id, "lie", Batcher.ErrorResult(Batcher.QuarantinedErrorType, "lie"), null, T0.AddMinutes(3));
        Assert.Empty(await Store.GetQuarantinedJobsWithQueuedItemsAsync());
        Assert.Equal(("ended", 2L), ((await Store.GetJobAsync(a.Id))!.ProcessingStatus, (await Store.GetJobAsync(a.Id))!.Errored));
    }

    [Fact]
    public async Task Faults_and_quarantine_survive_a_reopened_store()
    {
        var (a, _) = await Store.CreateJobAsync(new BatchJobInput { Items = BatchStoreContractTests.Items("a", 1) }, T0);
        await Store.RecordFaultAsync([a.Id], new BatchFault("first lie", Counted: true, T0, _ => TimeSpan.FromMinutes(1)));
        await using (var reopened = StoreLocation.Parse(_setting).CreateBatchStore())
        {
            var job = (await reopened.GetJobAsync(a.Id))!;
            Assert.Equal((1, "first lie", T0.AddMinutes(1)), (job.Failures, job.LastError, job.RetryAt));
            await reopened.QuarantineJobAsync(a.Id, "first lie", "{}", null, T0.AddMinutes(2));
        }

        await using var third = StoreLocation.Parse(_setting).CreateBatchStore();
        Assert.Equal(T0.AddMinutes(2), (await third.GetJobAsync(a.Id))!.QuarantinedAt);
    }
}

/// <summary>The fault-isolation contract on a SQLite file.</summary>
public sealed class SqliteBatchStoreFaultTests : BatchStoreFaultContractTests
{
    private readonly TempDirectory _dir = new();

    protected override Task<string> CreateDatabaseAsync() => Task.FromResult(Path.Combine(_dir.Path, "ledger.db"));

    protected override Task DeleteDatabaseAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>The fault-isolation contract on a real PostgreSQL database.</summary>
public sealed class PostgresBatchStoreFaultTests : BatchStoreFaultContractTests
{
    protected override async Task<string> CreateDatabaseAsync() => await (await PostgresServer.GetAsync()).CreateDatabaseAsync("batchfaults");

    protected override Task DeleteDatabaseAsync()
    {
        NpgsqlConnection.ClearAllPools();
        return Task.CompletedTask;
    }
}
