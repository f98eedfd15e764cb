using System.Text;
using FakeAnthropic;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Batching;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.IntegrationTests.Batching;

/// <summary>Canceling a job: queued requests are canceled at once, its own Message Batches are canceled upstream, shared ones are left alone.</summary>
public sealed class BatchCancelTests
{
    private static List<BatchItemInput> Items(string prefix, int count) =>
        Enumerable.Range(0, count)
            .Select(i => new BatchItemInput($"{prefix}{i}", Encoding.UTF8.GetBytes(BatchProxyTests.Params(i)), "claude-haiku-4-5", "claude-haiku-4-5", "passthrough", null))
            .ToList();

    [Fact]
    public async Task Queued_requests_are_canceled_at_once_and_only_batches_holding_nothing_else_are_canceled_upstream()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.Batches.InProgressPolls = int.MaxValue; // nothing ends unless canceled or ended by the test
        using var dir = new TempDirectory();
        var db = Path.Combine(dir.Path, "ledger.db");
        await using var store = new SqliteBatchStore(db);
        await store.MigrateAsync();
        await using var ledger = await BufferedLedger.OpenSqliteAsync(db, new LedgerOptions(), TimeProvider.System, NullLoggerFactory.Instance);
        using var http = new HttpClient();
        var api = new MessageBatchesClient(http, fake.BaseUrl, "sk-test");
        var options = new BatcherOptions { MaxRequestsPerBatch = 2, PollInterval = TimeSpan.Zero, MaxPollInterval = TimeSpan.Zero };
        using var batcher = new Batcher(store, api, new AttemptRecorder(PriceBook.Default, ledger), options, TimeProvider.System, NullLogger<Batcher>.Instance);

        // Job A (3) then B (1), two per batch: batch 1 = A0 A1 (A's alone), batch 2 = A2 B0 (shared with B).
        var start = DateTimeOffset.UtcNow;
        var (a, _) = await store.CreateJobAsync(new BatchJobInput { Items = Items("a", 3) }, start);
        var (b, _) = await store.CreateJobAsync(new BatchJobInput { Items = Items("b", 1) }, start.AddMilliseconds(1));
        await batcher.RunOnceAsync(CancellationToken.None);
        Assert.Equal(2, fake.Batches.CreateCount);
        var (c, _) = await store.CreateJobAsync(new BatchJobInput { Items = Items("c", 2) }, start.AddMilliseconds(2));

        // C was never sent: canceled at once, recorded, ended, nothing upstream.
        var canceledC = (await batcher.CancelAsync(c.Id, CancellationToken.None))!;
        Assert.Equal(("ended", 2L), (canceledC.ProcessingStatus, canceledC.Canceled));
        Assert.NotNull(canceledC.CanceledAt);
        Assert.Equal(0, fake.Batches.CancelCount);
        Assert.All(await store.GetItemsAsync(c.Id), item => Assert.Equal(("canceled", SqliteBatchStore.CanceledResult), (item.Status, item.Result)));

        // A: its own batch is canceled upstream; the batch it shares with B is not.
        await batcher.CancelAsync(a.Id, CancellationToken.None);
        Assert.Equal(1, fake.Batches.CancelCount);
        fake.Batches.EndNow(fake.Batches.BatchIds[1]);
        for (var pass = 0; pass < 10 && ((await store.GetJobAsync(a.Id))!.ProcessingStatus != "ended" || (await store.GetJobAsync(b.Id))!.ProcessingStatus != "ended"); pass++)
        {
            await batcher.RunOnceAsync(CancellationToken.None);
        }

        var endedA = (await store.GetJobAsync(a.Id))!;
        var endedB = (await store.GetJobAsync(b.Id))!;
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
}
