using System.Text;
using FakeAnthropic;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Batching;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.IntegrationTests.Batching;

/// <summary>
/// The crash window of a submission: stored as <c>submitting</c>, then the process dies before (or after) the
/// upstream created the batch. A new batcher must adopt a batch that exists and resend one that does not — never both.
/// </summary>
public sealed class BatcherReconcileTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_submission_left_in_submitting_is_adopted_when_upstream_has_it_and_resent_when_not(bool createdUpstream)
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.Batches.InProgressPolls = 0;
        using var dir = new TempDirectory();
        var db = Path.Combine(dir.Path, "ledger.db");
        await using var store = new SqliteBatchStore(db);
        await store.MigrateAsync();
        await using var ledger = await BufferedLedger.OpenSqliteAsync(db, new LedgerOptions(), TimeProvider.System, NullLoggerFactory.Instance);
        using var http = new HttpClient();
        var api = new MessageBatchesClient(http, fake.BaseUrl, "sk-test");
        var items = Enumerable.Range(0, 3)
            .Select(i => new BatchItemInput($"c{i}", Encoding.UTF8.GetBytes(BatchProxyTests.Params(i)), "claude-haiku-4-5", "claude-haiku-4-5", "passthrough", null))
            .ToList();
        var (job, _) = await store.CreateJobAsync(new BatchJobInput { Items = items }, DateTimeOffset.UtcNow);

        // The dead process: stored the submission, maybe made the create call, never stored the upstream id.
        var taken = (await store.BeginSubmissionAsync("mmxsub_dead", 100, 1_000_000, DateTimeOffset.UtcNow))!.Value;
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
        using var batcher = new Batcher(store, api, new AttemptRecorder(PriceBook.Default, ledger), options, TimeProvider.System, NullLogger<Batcher>.Instance);
        await batcher.ReconcileAsync(CancellationToken.None);
        for (var pass = 0; pass < 5 && (await store.GetJobAsync(job.Id))!.ProcessingStatus != "ended"; pass++)
        {
            await batcher.RunOnceAsync(CancellationToken.None);
        }

        var ended = (await store.GetJobAsync(job.Id))!;
        Assert.Equal(3, ended.Succeeded);
        var ours = fake.Batches.SubmittedCustomIds.Where(id => id != "foreign-1").ToList();
        Assert.Equal(3, ours.Count); // each request went upstream exactly once
        Assert.Equal(2, fake.Batches.CreateCount); // ours once (before the crash or after it) + the foreign one
        await ledger.FlushAsync();
        Assert.Equal(3, (await ledger.GetTotalsAsync(LedgerQuery.All)).Count);
    }

    private static StringContent Foreign()
    {
        var content = new StringContent($$"""{"requests":[{"custom_id":"foreign-1","params":{{BatchProxyTests.Params(9)}}}]}""", Encoding.UTF8, "application/json");
        content.Headers.Add("x-api-key", "sk-test");
        content.Headers.Add("anthropic-version", "2023-06-01");
        return content;
    }
}
