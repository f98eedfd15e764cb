using System.Net;
using System.Text.Json.Nodes;
using FakeAnthropic;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.IntegrationTests.Batching;
using ModelMix.IntegrationTests.Cli;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Pricing;
using ModelMix.Server;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// Two real proxies (Kestrel on two loopback ports) over one real PostgreSQL database and FakeAnthropic's Message
/// Batches API: jobs go in through either replica, one batcher works at a time and the other takes over when it
/// stops, every request goes upstream once, every result is recorded once at the batch price, and any replica
/// answers for any job.
/// </summary>
public sealed class MultiReplicaBatchTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private readonly List<WebApplication> _replicas = [];
    private FakeAnthropicServer _fake = null!;
    private string _store = string.Empty;

    public async Task InitializeAsync()
    {
        _fake = await FakeAnthropicServer.StartAsync();
        _fake.Batches.Outcome = (_, _) => FakeBatchOutcome.Succeeded(new FakeUsage(100, 20, ServiceTier: "batch"));
        _store = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("batchreplicas");
    }

    public async Task DisposeAsync()
    {
        foreach (var replica in _replicas)
        {
            await replica.StopAsync();
            await replica.DisposeAsync();
        }

        await _fake.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
    }

    [Fact]
    public async Task Jobs_through_two_replicas_are_sent_once_and_recorded_once_at_the_batch_price_across_a_batcher_failover()
    {
        _fake.Batches.InProgressPolls = int.MaxValue; // nothing ends while the first batcher works
        var (a, appA) = await StartReplicaAsync();
        await WaitUntilAsync(async () => await LeaseHoldersAsync() == 1); // A's batcher works
        var (b, _) = await StartReplicaAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };

        // Two jobs through both replicas (A's batcher sends both); a replay of B's job through A returns B's job.
        var jobs = new List<string> { await SubmitAsync(http, a, 0), await SubmitAsync(http, b, 1) };
        using (var replay = await PostJobAsync(http, a, 1))
        {
            Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
            Assert.Equal("true", replay.Headers.GetValues("x-modelmix-idempotent-replay").Single());
            Assert.Equal(jobs[1], JsonNode.Parse(await replay.Content.ReadAsStringAsync())!["id"]!.GetValue<string>());
        }

        await WaitUntilAsync(() => Task.FromResult(_fake.Batches.SubmittedCustomIds.Count >= 100));
        var status = await GetJobAsync(http, b, jobs[0]); // A's job, read through B
        Assert.Equal(("in_progress", 50L), (status["processing_status"]!.GetValue<string>(), status["request_counts"]!["processing"]!.GetValue<long>()));

        // A stops: B's batcher takes the lease, collects A's batches and sends the jobs queued from now on.
        await appA.StopAsync();
        await WaitUntilAsync(async () => await LeaseHoldersAsync() == 1);
        jobs.Add(await SubmitAsync(http, b, 2));
        jobs.Add(await SubmitAsync(http, b, 3));
        _fake.Batches.InProgressPolls = 1;
        foreach (var job in jobs)
        {
            var ended = await WaitForEndAsync(http, b, job);
            Assert.Equal(50L, ended["request_counts"]!["succeeded"]!.GetValue<long>());
        }

        // Upstream: every request once, every batch's results downloaded once.
        var sent = _fake.Batches.SubmittedCustomIds;
        Assert.Equal(200, sent.Count);
        Assert.Equal(200, sent.Distinct().Count());
        Assert.Equal(_fake.Batches.CreateCount, _fake.Batches.ResultDownloadCount);
        Assert.InRange(_fake.Batches.CreateCount, 8, 12); // 30 per batch: 100 before the failover (4+), 100 after (4+)

        // The ledger: one record per request, each at the batch price.
        await _replicas[1].Services.GetRequiredService<ILedger>().FlushAsync();
        await using var ledger = new PostgresLedgerStore(_store);
        await ledger.MigrateAsync();
        var records = new List<LedgerRecord>();
        await foreach (var record in ledger.ReadAsync(LedgerQuery.All, CancellationToken.None))
        {
            records.Add(record);
        }

        Assert.Equal(200, records.Count);
        Assert.Equal(sent.Order(StringComparer.Ordinal), records.Select(r => r.Id).Order(StringComparer.Ordinal)); // custom_id = record id
        Assert.All(records, r =>
        {
            Assert.Equal((LedgerStatus.Ok, ServiceTier.Batch), (r.Status, r.Usage.ServiceTier));
            Assert.Equal(0.0001m, r.Cost!.Value.Total); // Haiku 4.5 at half price: (100 × $1 + 20 × $5) / 1e6 × 0.5
        });
        Assert.Equal(jobs.Order(StringComparer.Ordinal), records.Select(r => r.RequestId).Distinct().Order(StringComparer.Ordinal));

        // Results of A's job through B, in job order.
        var lines = (await http.GetStringAsync(new Uri(b, $"v1/modelmix/batch/{jobs[0]}/results"))).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"j0-{i}"), lines.Select(l => JsonNode.Parse(l)!["custom_id"]!.GetValue<string>()));
        Assert.All(lines, l => Assert.Equal("succeeded", JsonNode.Parse(l)!["result"]!["type"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_job_sent_by_one_replica_is_canceled_through_the_other()
    {
        _fake.Batches.InProgressPolls = int.MaxValue; // the batch runs until canceled
        var (a, _) = await StartReplicaAsync();
        await WaitUntilAsync(async () => await LeaseHoldersAsync() == 1);
        var (b, _) = await StartReplicaAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
        var job = await SubmitAsync(http, a, 0, count: 5);
        await using (var store = new PostgresBatchStore(_store))
        {
            // Sent by A, and its upstream id stored: only then is the batch canceled upstream rather than left to finish.
            await WaitUntilAsync(async () => await store.GetOpenSubmissionsAsync() is [{ UpstreamId: not null }]);
        }

        Assert.Equal(5L, (await GetJobAsync(http, b, job))["request_counts"]!["processing"]!.GetValue<long>());
        using (var cancel = await http.PostAsync(new Uri(b, $"v1/modelmix/batch/{job}/cancel"), null))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
            Assert.NotNull(JsonNode.Parse(await cancel.Content.ReadAsStringAsync())!["cancel_initiated_at"]);
        }

        Assert.Equal(1, _fake.Batches.CancelCount);
        var ended = await WaitForEndAsync(http, a, job); // collected by A's batcher
        Assert.Equal(5L, ended["request_counts"]!["canceled"]!.GetValue<long>());
        Assert.Equal(1, _fake.Batches.CreateCount);
        Assert.Equal(1, _fake.Batches.ResultDownloadCount);
    }

    [Fact]
    public async Task When_the_working_replica_is_killed_another_takes_over_and_collects_every_result_once()
    {
        _fake.Batches.InProgressPolls = int.MaxValue; // runs until the test ends it
        var environment = new Dictionary<string, string>
        {
            ["ModelMix__Batch__PollInterval"] = "00:00:00.100",
            ["ModelMix__Batch__MaxPollInterval"] = "00:00:00.200",
            ["ModelMix__Batch__IdleInterval"] = "00:00:00.050",
            ["ModelMix__Batch__LeaderCheckInterval"] = "00:00:00.200",
            ["ModelMix__Batch__MaxRequestsPerBatch"] = "30",
        };
        await using var serve = await ServeProcess.StartAsync(_fake.BaseUrl, _store, apiKey: "sk-upstream-secret-test-key-0123456789", environment);
        await WaitUntilAsync(async () => await LeaseHoldersAsync() == 1); // the real `modelmix serve` works
        var (b, _) = await StartReplicaAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
        var job = await SubmitAsync(http, b, 0);
        await WaitUntilAsync(() => Task.FromResult(_fake.Batches.CreateCount >= 2 && _fake.Batches.RetrieveCount > 0)); // 30 + 20, polled by serve

        await serve.KillAsync(); // kill -9: no clean release; PostgreSQL drops the lock with the session
        _fake.Batches.InProgressPolls = 0;
        var ended = await WaitForEndAsync(http, b, job);

        Assert.Equal(50L, ended["request_counts"]!["succeeded"]!.GetValue<long>());
        Assert.Equal(50, _fake.Batches.SubmittedCustomIds.Distinct().Count());
        Assert.Equal(50, _fake.Batches.SubmittedCustomIds.Count);
        Assert.Equal((2, 2), (_fake.Batches.CreateCount, _fake.Batches.ResultDownloadCount));
        await _replicas[0].Services.GetRequiredService<ILedger>().FlushAsync();
        await using var ledger = new PostgresLedgerStore(_store);
        await ledger.MigrateAsync();
        var totals = await ledger.GetTotalsAsync(new LedgerQuery { RequestId = job });
        Assert.Equal(50, totals.Count);
        Assert.Equal(50 * 0.0001m, totals.Cost.Total);
    }

    private static async Task<string> SubmitAsync(HttpClient http, Uri replica, int job, int count = 50)
    {
        using var response = await PostJobAsync(http, replica, job, count);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
    }

    private static async Task<HttpResponseMessage> PostJobAsync(HttpClient http, Uri replica, int job, int count = 50)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(replica, "v1/modelmix/batch"))
        {
            Content = BatchProxyTests.Job(Enumerable.Range(0, count).Select(i => $$"""{"custom_id":"j{{job}}-{{i}}","params":{{BatchProxyTests.Params(i)}}}""")),
        };
        request.Headers.Add("Idempotency-Key", $"job-{job}");
        return await http.SendAsync(request);
    }

    private static async Task<JsonNode> GetJobAsync(HttpClient http, Uri replica, string job) =>
        JsonNode.Parse(await http.GetStringAsync(new Uri(replica, $"v1/modelmix/batch/{job}")))!;

    private static async Task<JsonNode> WaitForEndAsync(HttpClient http, Uri replica, string job)
    {
        JsonNode? status = null;
        await WaitUntilAsync(async () => (status = await GetJobAsync(http, replica, job))["processing_status"]!.GetValue<string>() == "ended");
        return status!;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < Patience, "timed out waiting");
            await Task.Delay(50);
        }
    }

    /// <summary>How many sessions hold the batch lease (the advisory lock of <see cref="PostgresBatchStore"/>).</summary>
    private async Task<long> LeaseHoldersAsync()
    {
        await using var connection = new NpgsqlConnection(_store);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = @c AND objid::bigint = @o AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database());",
            connection);
        command.Parameters.AddWithValue("c", PostgresBatchStore.LeaderLockKey >> 32);
        command.Parameters.AddWithValue("o", PostgresBatchStore.LeaderLockKey & 0xFFFFFFFF);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<(Uri Url, WebApplication App)> StartReplicaAsync()
    {
        var settings = new Dictionary<string, string?>
        {
            ["ModelMix:Upstream"] = _fake.BaseUrl.ToString(),
            ["ModelMix:UpstreamApiKey"] = "sk-upstream-secret-test-key-0123456789",
            ["ModelMix:Store"] = _store,
            ["ModelMix:Batch:MaxRequestsPerBatch"] = "30",
            ["ModelMix:Batch:LeaderCheckInterval"] = "00:00:00.200",
        };
        BatchProxyTests.FastBatches(settings);
        var app = ProxyApplication.Create("http://127.0.0.1:0", null, settings);
        await app.StartAsync();
        _replicas.Add(app);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (new Uri(address.TrimEnd('/') + "/"), app);
    }
}
