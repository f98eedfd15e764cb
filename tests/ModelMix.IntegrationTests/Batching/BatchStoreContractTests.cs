using System.Text;
using FakeAnthropic;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Batching;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Stores;

namespace ModelMix.IntegrationTests.Batching;

/// <summary>
/// The contract every <see cref="IBatchStore"/> keeps — the queue's states, idempotency, submissions and their crash
/// window, results by request id, cancels — run against a SQLite file and a real PostgreSQL database by subclasses,
/// with the real <see cref="Batcher"/>, ledger and FakeAnthropic's Message Batches API where it matters.
/// </summary>
public abstract class BatchStoreContractTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);

    /// <summary>The store setting of this test's empty database (a SQLite path or a PostgreSQL connection string).</summary>
    protected string Setting { get; private set; } = string.Empty;

    /// <summary>The store under test.</summary>
    protected IBatchStore Store { get; private set; } = null!;

    /// <summary>Creates this test's empty database and returns its store setting.</summary>
    protected abstract Task<string> CreateDatabaseAsync();

    /// <summary>Deletes it.</summary>
    protected abstract Task DeleteDatabaseAsync();

    /// <summary>Another store over this test's database (what a restarted process, or another replica, opens).</summary>
    protected IBatchStore NewStore() => StoreLocation.Parse(Setting).CreateBatchStore();

    public async Task InitializeAsync()
    {
        Setting = await CreateDatabaseAsync();
        Store = NewStore();
        await Store.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await Store.DisposeAsync();
        await DeleteDatabaseAsync();
    }

    internal static List<BatchItemInput> Items(string prefix, int count, string? policy = "passthrough") =>
        Enumerable.Range(0, count)
            .Select(i => new BatchItemInput($"{prefix}{i}", Encoding.UTF8.GetBytes(BatchProxyTests.Params(i)), "auto", "claude-haiku-4-5", policy, policy is null ? null : "cheapest"))
            .ToList();

    [Fact]
    public async Task A_created_job_keeps_its_requests_byte_for_byte_in_order_with_who_asked()
    {
        var items = Items("t", 3);
        items[1] = items[1] with { Policy = null, Reason = null, Params = [0x7B, 0x7D, 0xFF, 0x00] }; // any bytes round-trip
        var input = new BatchJobInput { Id = "mmxjob_fixed", KeyId = "k1", SessionId = "s1", TaskLabel = "nightly", BudgetReservation = "{\"x\":1}", Items = items };

        var (job, created) = await Store.CreateJobAsync(input, T0);

        Assert.True(created);
        Assert.Equal(("mmxjob_fixed", "k1", "{\"x\":1}", T0, (DateTimeOffset?)null), (job.Id, job.KeyId, job.BudgetReservation, job.CreatedAt, job.CanceledAt));
        Assert.Equal((3L, 3L, "queued"), (job.Queued, job.Total, job.ProcessingStatus));
        var stored = await Store.GetItemsAsync(job.Id);
        Assert.Equal(["t0", "t1", "t2"], stored.Select(i => i.CustomId));
        Assert.Equal(items[0].Params, stored[0].Params);
        Assert.Equal(new byte[] { 0x7B, 0x7D, 0xFF, 0x00 }, stored[1].Params);
        Assert.All(stored, i => Assert.Equal((job.Id, "auto", "claude-haiku-4-5", "k1", "s1", "nightly", "queued", (string?)null), (i.JobId, i.RequestedModel, i.RoutedModel, i.KeyId, i.SessionId, i.TaskLabel, i.Status, i.Result)));
        Assert.Equal(("passthrough", "cheapest"), (stored[0].Policy, stored[0].Reason));
        Assert.Equal(((string?)null, (string?)null), (stored[1].Policy, stored[1].Reason));
        Assert.Equal(3, stored.Select(i => i.Id).Distinct().Count());
        Assert.Null(await Store.GetJobAsync("mmxjob_unknown"));
        Assert.Empty(await Store.GetItemsAsync("mmxjob_unknown"));
    }

    [Fact]
    public async Task Migrating_every_component_creates_the_batch_tables_and_is_safe_to_repeat()
    {
        var location = StoreLocation.Parse(Setting);
        Assert.Contains("batches", await location.MigrateAllAsync()); // what `modelmix migrate` runs
        await location.MigrateAllAsync();
        await using var store = location.CreateBatchStore();
        var (job, created) = await store.CreateJobAsync(new BatchJobInput { Items = Items("m", 1) }, T0);
        Assert.True(created);
        Assert.Equal(1L, (await Store.GetJobAsync(job.Id))!.Queued);
    }

    [Fact]
    public async Task An_idempotency_key_returns_the_first_job_for_the_same_key_id_only()
    {
        var (first, created) = await Store.CreateJobAsync(new BatchJobInput { KeyId = "k1", IdempotencyKey = "K", Items = Items("a", 2) }, T0);
        var (again, createdAgain) = await Store.CreateJobAsync(new BatchJobInput { KeyId = "k1", IdempotencyKey = "K", Items = Items("b", 5) }, T0.AddSeconds(1));
        var (other, createdOther) = await Store.CreateJobAsync(new BatchJobInput { KeyId = "k2", IdempotencyKey = "K", Items = Items("c", 1) }, T0.AddSeconds(2));
        var (anonymous, createdAnonymous) = await Store.CreateJobAsync(new BatchJobInput { IdempotencyKey = "K", Items = Items("d", 1) }, T0.AddSeconds(3));
        var (anonymousAgain, createdAnonymousAgain) = await Store.CreateJobAsync(new BatchJobInput { IdempotencyKey = "K", Items = Items("e", 1) }, T0.AddSeconds(4));

        Assert.Equal((true, false, true, true, false), (created, createdAgain, createdOther, createdAnonymous, createdAnonymousAgain));
        Assert.Equal(first.Id, again.Id);
        Assert.Equal(2L, again.Total); // the first job's requests, nothing of the replay queued
        Assert.NotEqual(first.Id, other.Id);
        Assert.Equal(anonymous.Id, anonymousAgain.Id);
        var taken = (await Store.BeginSubmissionAsync("sub1", 100, 1_000_000, T0.AddMinutes(1)))!.Value;
        Assert.Equal(["a0", "a1", "c0", "d0"], taken.Items.Select(i => i.CustomId));
    }

    [Fact]
    public async Task A_submission_takes_the_oldest_queued_requests_within_count_and_bytes_and_skips_canceled_jobs()
    {
        Assert.Null(await Store.BeginSubmissionAsync("none", 10, 1_000_000, T0));
        var (late, _) = await Store.CreateJobAsync(new BatchJobInput { Items = Items("late", 2) }, T0.AddSeconds(2));
        var (early, _) = await Store.CreateJobAsync(new BatchJobInput { Items = Items("early", 3) }, T0);
        var (canceled, _) = await Store.CreateJobAsync(new BatchJobInput { Items = Items("gone", 2) }, T0.AddSeconds(1));
        var (big, _) = await Store.CreateJobAsync(new BatchJobInput { Items = Items("big", 2) }, T0.AddSeconds(3));
        await Store.CancelJobAsync(canceled.Id, T0.AddSeconds(4));
        var size = Items("early", 1)[0].Params.Length;

        var first = (await Store.BeginSubmissionAsync("sub1", 4, 1_000_000, T0.AddMinutes(1)))!.Value;
        var second = (await Store.BeginSubmissionAsync("sub2", 100, (2 * size) - 1, T0.AddMinutes(2)))!.Value; // one fits, not two
        var third = (await Store.BeginSubmissionAsync("sub3", 100, 1, T0.AddMinutes(3)))!.Value; // one too big still goes, alone
        var fourth = (await Store.BeginSubmissionAsync("sub4", 100, 1_000_000, T0.AddMinutes(4)))!.Value;

        Assert.Equal(["early0", "early1", "early2", "late0"], first.Items.Select(i => i.CustomId).Order());
        Assert.Equal(("sub1", "submitting", 4, T0.AddMinutes(1), (string?)null), (first.Submission.Id, first.Submission.State, first.Submission.Count, first.Submission.CreatedAt, first.Submission.UpstreamId));
        Assert.Equal(["late1"], second.Items.Select(i => i.CustomId));
        Assert.Equal(["big0"], third.Items.Select(i => i.CustomId));
        Assert.Equal(["big1"], fourth.Items.Select(i => i.CustomId));
        Assert.Null(await Store.BeginSubmissionAsync("sub5", 100, 1_000_000, T0.AddMinutes(5))); // the canceled job's requests are never taken
        var counts = (await Store.GetJobAsync(early.Id))!;
        Assert.Equal(("in_progress", 0L, 3L), (counts.ProcessingStatus, counts.Queued, counts.Processing));
        Assert.Equal(2L, (await Store.GetJobAsync(late.Id))!.Processing);
        Assert.Equal(2L, (await Store.GetJobAsync(big.Id))!.Processing);
        Assert.Equal(2L, (await Store.GetJobAsync(canceled.Id))!.Canceled);
        Assert.All(await Store.GetSubmittedItemsAsync("sub1"), i => Assert.Equal("submitted", i.Status));
        Assert.Equal(4, (await Store.GetSubmittedItemsAsync("sub1")).Count);
    }

    [Fact]
    public async Task Submissions_move_from_submitting_to_in_progress_to_collected_and_results_land_by_request_id()
    {
        var (job, _) = await Store.CreateJobAsync(new BatchJobInput { Items = Items("t", 4) }, T0);
        var taken = (await Store.BeginSubmissionAsync("sub1", 100, 1_000_000, T0))!.Value;
        Assert.Equal(["sub1"], (await Store.GetOpenSubmissionsAsync()).Select(s => s.Id));

        await Store.SetUpstreamIdAsync("sub1", "msgbatch_1", T0.AddSeconds(30), TimeSpan.FromSeconds(30));
        await Store.SetNextPollAsync("sub1", T0.AddSeconds(90), TimeSpan.FromSeconds(60));
        var open = Assert.Single(await Store.GetOpenSubmissionsAsync());
        Assert.Equal(("msgbatch_1", "in_progress", 4, T0.AddSeconds(90), TimeSpan.FromSeconds(60)), (open.UpstreamId, open.State, open.Count, open.NextPollAt, open.PollDelay));
        Assert.Equal(["msgbatch_1"], await Store.GetKnownUpstreamIdsAsync());

        // Three lines come back (one per outcome), in any order; the fourth request has none and is queued again.
        var ids = taken.Items.Select(i => i.Id).ToList();
        await Store.CompleteSubmissionAsync("sub1",
        [
            new BatchResultLine(ids[2], "expired", "{\"type\":\"expired\"}"),
            new BatchResultLine(ids[0], "succeeded", "{\"type\":\"succeeded\",\"message\":{}}"),
            new BatchResultLine(ids[1], "errored", "{\"type\":\"errored\"}"),
            new BatchResultLine("not-ours", "succeeded", "{}"),
        ]);

        Assert.Empty(await Store.GetOpenSubmissionsAsync());
        Assert.Equal(["msgbatch_1"], await Store.GetKnownUpstreamIdsAsync()); // still known: never adopted again
        var items = await Store.GetItemsAsync(job.Id);
        Assert.Equal(["succeeded", "errored", "expired", "queued"], items.Select(i => i.Status));
        Assert.Equal("{\"type\":\"succeeded\",\"message\":{}}", items[0].Result);
        Assert.Null(items[3].Result);
        var counts = (await Store.GetJobAsync(job.Id))!;
        Assert.Equal((1L, 0L, 1L, 1L, 1L, "in_progress"), (counts.Queued, counts.Processing, counts.Succeeded, counts.Errored, counts.Expired, counts.ProcessingStatus));

        // Completing the same submission again (a crash before the batcher noticed) changes nothing.
        await Store.CompleteSubmissionAsync("sub1", [new BatchResultLine(ids[3], "succeeded", "{}")]);
        Assert.Equal("queued", (await Store.GetItemsAsync(job.Id))[3].Status);

        var resent = (await Store.BeginSubmissionAsync("sub2", 100, 1_000_000, T0.AddMinutes(1)))!.Value;
        Assert.Equal([ids[3]], resent.Items.Select(i => i.Id));
        await Store.SetUpstreamIdAsync("sub2", "msgbatch_2", T0, TimeSpan.Zero);
        await Store.CompleteSubmissionAsync("sub2", [new BatchResultLine(ids[3], "canceled", SqliteBatchStore.CanceledResult)]);
        var ended = (await Store.GetJobAsync(job.Id))!;
        Assert.Equal(("ended", 1L, 4L), (ended.ProcessingStatus, ended.Canceled, ended.Total));
    }

    [Fact]
    public async Task An_abandoned_submission_gives_its_requests_back_and_a_restarted_store_sees_everything()
    {
        var (job, _) = await Store.CreateJobAsync(new BatchJobInput { Items = Items("t", 3) }, T0);
        var first = (await Store.BeginSubmissionAsync("sub1", 2, 1_000_000, T0))!.Value;
        await Store.AbandonSubmissionAsync("sub1");

        Assert.Empty(await Store.GetOpenSubmissionsAsync());
        Assert.Equal(3L, (await Store.GetJobAsync(job.Id))!.Queued);

        await using var restarted = NewStore();
        var again = (await restarted.BeginSubmissionAsync("sub2", 100, 1_000_000, T0.AddSeconds(1)))!.Value;
        Assert.Equal(first.Items.Select(i => i.Id).Concat([again.Items[2].Id]), again.Items.Select(i => i.Id));
        Assert.Equal(["sub2"], (await Store.GetOpenSubmissionsAsync()).Select(s => s.Id));
        Assert.Equal(3L, (await Store.GetJobAsync(job.Id))!.Processing);
    }

    [Fact]
    public async Task Canceling_a_job_cancels_its_queued_requests_once_and_names_only_batches_holding_nothing_else()
    {
        var (a, _) = await Store.CreateJobAsync(new BatchJobInput { Items = Items("a", 3) }, T0);
        var (b, _) = await Store.CreateJobAsync(new BatchJobInput { Items = Items("b", 1) }, T0.AddSeconds(1));
        var (c, _) = await Store.CreateJobAsync(new BatchJobInput { Items = Items("c", 2) }, T0.AddSeconds(2));
        await Store.BeginSubmissionAsync("alone", 2, 1_000_000, T0); // a0 a1
        await Store.BeginSubmissionAsync("shared", 2, 1_000_000, T0); // a2 b0
        await Store.SetUpstreamIdAsync("alone", "msgbatch_alone", T0, TimeSpan.Zero);
        await Store.SetUpstreamIdAsync("shared", "msgbatch_shared", T0, TimeSpan.Zero);

        var canceledC = (await Store.CancelJobAsync(c.Id, T0.AddMinutes(1)))!;
        Assert.Equal(["c0", "c1"], canceledC.Canceled.Select(i => i.CustomId).Order());
        Assert.Empty(canceledC.Upstream);
        var jobC = (await Store.GetJobAsync(c.Id))!;
        Assert.Equal(("ended", 2L, (DateTimeOffset?)T0.AddMinutes(1)), (jobC.ProcessingStatus, jobC.Canceled, jobC.CanceledAt));
        Assert.All(await Store.GetItemsAsync(c.Id), i => Assert.Equal(("canceled", SqliteBatchStore.CanceledResult), (i.Status, i.Result)));

        var canceledA = (await Store.CancelJobAsync(a.Id, T0.AddMinutes(2)))!;
        Assert.Empty(canceledA.Canceled);
        Assert.Equal([("alone", "msgbatch_alone")], canceledA.Upstream);

        // Again: harmless, the first cancel time stays.
        var againC = (await Store.CancelJobAsync(c.Id, T0.AddMinutes(5)))!;
        Assert.Empty(againC.Canceled);
        Assert.Equal(T0.AddMinutes(1), (await Store.GetJobAsync(c.Id))!.CanceledAt);
        Assert.Null(await Store.CancelJobAsync("mmxjob_unknown", T0));

        // The shared batch ends without a2's line: a2 comes back to the queue, is never resent, and is listed to cancel.
        var shared = await Store.GetSubmittedItemsAsync("shared");
        await Store.CompleteSubmissionAsync("shared", [new BatchResultLine(shared.Single(i => i.JobId == b.Id).Id, "succeeded", "{}")]);
        Assert.Equal([a.Id], await Store.GetCanceledJobsWithQueuedItemsAsync());
        Assert.Null(await Store.BeginSubmissionAsync("never", 100, 1_000_000, T0.AddMinutes(3)));
        var late = (await Store.CancelJobAsync(a.Id, T0.AddMinutes(4)))!;
        Assert.Equal(["a2"], late.Canceled.Select(i => i.CustomId));
        Assert.Empty(await Store.GetCanceledJobsWithQueuedItemsAsync());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_submission_left_in_submitting_is_adopted_when_upstream_has_it_and_resent_when_not(bool createdUpstream)
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.Batches.InProgressPolls = 0;
        await using var ledger = await BufferedLedger.OpenAsync(Setting, new LedgerOptions(), TimeProvider.System, NullLoggerFactory.Instance);
        using var http = new HttpClient();
        var api = new MessageBatchesClient(http, fake.BaseUrl, "sk-test");
        var (job, _) = await Store.CreateJobAsync(new BatchJobInput { Items = Items("c", 3) }, DateTimeOffset.UtcNow);

        // The dead process: stored the submission, maybe made the create call, never stored the upstream id.
        var taken = (await Store.BeginSubmissionAsync("mmxsub_dead", 100, 1_000_000, DateTimeOffset.UtcNow))!.Value;
        if (createdUpstream)
        {
            await api.CreateAsync(taken.Items, CancellationToken.None);
        }

        // Someone else's batch of another size is never adopted.
        using (var other = await http.PostAsync(new Uri(fake.BaseUrl, "v1/messages/batches"), Foreign()))
        {
            other.EnsureSuccessStatusCode();
        }

        var options = new BatcherOptions { PollInterval = TimeSpan.Zero, MaxPollInterval = TimeSpan.Zero };
        await using var restarted = NewStore();
        using var batcher = new Batcher(restarted, api, new AttemptRecorder(PriceBook.Default, ledger), options, TimeProvider.System, NullLogger<Batcher>.Instance);
        await batcher.ReconcileAsync(CancellationToken.None);
        for (var pass = 0; pass < 5 && (await restarted.GetJobAsync(job.Id))!.ProcessingStatus != "ended"; pass++)
        {
            await batcher.RunOnceAsync(CancellationToken.None);
        }

        var ended = (await restarted.GetJobAsync(job.Id))!;
        Assert.Equal(3, ended.Succeeded);
        var ours = fake.Batches.SubmittedCustomIds.Where(id => id != "foreign-1").ToList();
        Assert.Equal(3, ours.Count); // each request went upstream exactly once
        Assert.Equal(2, fake.Batches.CreateCount); // ours once (before the crash or after it) + the foreign one
        await ledger.FlushAsync();
        Assert.Equal(3, (await ledger.GetTotalsAsync(LedgerQuery.All)).Count);
    }

    [Fact]
    public async Task Queued_requests_are_canceled_at_once_and_only_batches_holding_nothing_else_are_canceled_upstream()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.Batches.InProgressPolls = int.MaxValue; // nothing ends unless canceled or ended by the test
        await using var ledger = await BufferedLedger.OpenAsync(Setting, new LedgerOptions(), TimeProvider.System, NullLoggerFactory.Instance);
        using var http = new HttpClient();
        var api = new MessageBatchesClient(http, fake.BaseUrl, "sk-test");
        var options = new BatcherOptions { MaxRequestsPerBatch = 2, PollInterval = TimeSpan.Zero, MaxPollInterval = TimeSpan.Zero };
        using var batcher = new Batcher(Store, api, new AttemptRecorder(PriceBook.Default, ledger), options, TimeProvider.System, NullLogger<Batcher>.Instance);

        // Job A (3) then B (1), two per batch: batch 1 = A0 A1 (A's alone), batch 2 = A2 B0 (shared with B).
        var start = DateTimeOffset.UtcNow;
        var (a, _) = await Store.CreateJobAsync(new BatchJobInput { Items = Items("a", 3) }, start);
        var (b, _) = await Store.CreateJobAsync(new BatchJobInput { Items = Items("b", 1) }, start.AddMilliseconds(1));
        await batcher.RunOnceAsync(CancellationToken.None);
        Assert.Equal(2, fake.Batches.CreateCount);
        var (c, _) = await Store.CreateJobAsync(new BatchJobInput { Items = Items("c", 2) }, start.AddMilliseconds(2));

        // C was never sent: canceled at once, recorded, ended, nothing upstream.
        var canceledC = (await batcher.CancelAsync(c.Id, CancellationToken.None))!;
        Assert.Equal(("ended", 2L), (canceledC.ProcessingStatus, canceledC.Canceled));
        Assert.NotNull(canceledC.CanceledAt);
        Assert.Equal(0, fake.Batches.CancelCount);
        Assert.All(await Store.GetItemsAsync(c.Id), item => Assert.Equal(("canceled", SqliteBatchStore.CanceledResult), (item.Status, item.Result)));

        // A: its own batch is canceled upstream; the batch it shares with B is not.
        await batcher.CancelAsync(a.Id, CancellationToken.None);
        Assert.Equal(1, fake.Batches.CancelCount);
        fake.Batches.EndNow(fake.Batches.BatchIds[1]);
        for (var pass = 0; pass < 10 && ((await Store.GetJobAsync(a.Id))!.ProcessingStatus != "ended" || (await Store.GetJobAsync(b.Id))!.ProcessingStatus != "ended"); pass++)
        {
            await batcher.RunOnceAsync(CancellationToken.None);
        }

        var endedA = (await Store.GetJobAsync(a.Id))!;
        var endedB = (await Store.GetJobAsync(b.Id))!;
        Assert.Equal((2L, 1L), (endedA.Canceled, endedA.Succeeded));
        Assert.Equal((0L, 1L), (endedB.Canceled, endedB.Succeeded));
        Assert.Equal(2, fake.Batches.CreateCount); // nothing was sent again

        await ledger.FlushAsync();
        var canceled = await ledger.GetTotalsAsync(new LedgerQuery { Status = LedgerStatus.Error });
        Assert.Equal(4, canceled.Count); // C0 C1 A0 A1
        Assert.Equal(0m, canceled.Cost.Total);
        Assert.Equal(6, (await ledger.GetTotalsAsync(LedgerQuery.All)).Count);
        var records = new List<LedgerRecord>();
        await foreach (var record in ledger.ReadAsync(new LedgerQuery { Status = LedgerStatus.Error }, CancellationToken.None))
        {
            records.Add(record);
        }

        Assert.All(records, r => Assert.Equal("batch_canceled", r.ErrorType));
    }

    private static StringContent Foreign()
    {
        var content = new StringContent($$"""{"requests":[{"custom_id":"foreign-1","params":{{BatchProxyTests.Params(9)}}}]}""", Encoding.UTF8, "application/json");
        content.Headers.Add("x-api-key", "sk-test");
        content.Headers.Add("anthropic-version", "2023-06-01");
        return content;
    }
}

/// <summary>The batch store contract on a SQLite file (the ledger's own).</summary>
public sealed class SqliteBatchStoreTests : BatchStoreContractTests
{
    private readonly TempDirectory _dir = new();

    protected override Task<string> CreateDatabaseAsync() => Task.FromResult(Path.Combine(_dir.Path, "ledger.db"));

    protected override Task DeleteDatabaseAsync()
    {
        _dir.Dispose();
        return Task.CompletedTask;
    }
}
