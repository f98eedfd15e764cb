using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FakeAnthropic;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.IntegrationTests.Cli;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.IntegrationTests.Batching;

/// <summary>The batch door end to end: the proxy's /v1/modelmix/batch over FakeAnthropic's Message Batches API and the SQLite ledger.</summary>
public sealed class BatchProxyTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    internal static void FastBatches(Dictionary<string, string?> settings)
    {
        settings["ModelMix:Batch:PollInterval"] = "00:00:00.100";
        settings["ModelMix:Batch:MaxPollInterval"] = "00:00:00.200";
        settings["ModelMix:Batch:IdleInterval"] = "00:00:00.050";
    }

    internal static string Params(int i, string model = "claude-haiku-4-5", long maxTokens = 64) =>
        $$"""{"model":"{{model}}","max_tokens":{{maxTokens}},"messages":[{"role":"user","content":"Summarize ticket #{{i}}."}]}""";

    internal static StringContent Job(IEnumerable<string> requests) =>
        new("{\"requests\":[" + string.Join(",", requests) + "]}", Encoding.UTF8, "application/json");

    [Fact]
    public async Task A_job_of_1000_requests_is_split_into_batches_submitted_once_and_recorded_at_the_batch_price()
    {
        await using var proxy = await ProxyHarness.StartAsync(settings =>
        {
            FastBatches(settings);
            settings["ModelMix:Batch:MaxRequestsPerBatch"] = "400";
        });
        proxy.Fake.Batches.Outcome = (_, _) => FakeBatchOutcome.Succeeded(new FakeUsage(100, 20, ServiceTier: "batch"));
        using var http = new HttpClient { BaseAddress = proxy.ProxyUrl };

        using var submit = await http.PostAsync("v1/modelmix/batch", Job(Enumerable.Range(0, 1000).Select(i => $$"""{"custom_id":"t-{{i}}","params":{{Params(i)}}}""")));
        Assert.Equal(HttpStatusCode.OK, submit.StatusCode);
        var jobId = JsonNode.Parse(await submit.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        var status = await WaitForEndAsync(http, jobId);

        Assert.Equal(1000, status["request_counts"]!["succeeded"]!.GetValue<long>());
        Assert.Equal(3, proxy.Fake.Batches.CreateCount); // 400 + 400 + 200
        Assert.Equal(1000, proxy.Fake.Batches.SubmittedCustomIds.Distinct().Count());
        Assert.Equal(1000, proxy.Fake.Batches.SubmittedCustomIds.Count);

        var records = await ReadLedgerAsync(proxy.DbPath, 1000);
        Assert.Equal(1000, records.Count);
        Assert.All(records, r =>
        {
            Assert.Equal(ServiceTier.Batch, r.Usage.ServiceTier);
            Assert.Equal(LedgerStatus.Ok, r.Status);
            // Haiku 4.5 at half price: (100 × $1 + 20 × $5) / 1e6 × 0.5 = $0.0001.
            Assert.Equal(0.0001m, r.Cost!.Value.Total);
        });
        Assert.Equal(0.1m, records.Sum(r => r.Cost!.Value.Total)); // 1000 × 0.0001

        var lines = (await http.GetStringAsync($"v1/modelmix/batch/{jobId}/results")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1000, lines.Length);
        Assert.Equal("t-0", JsonNode.Parse(lines[0])!["custom_id"]!.GetValue<string>());
        Assert.Equal("succeeded", JsonNode.Parse(lines[999])!["result"]!["type"]!.GetValue<string>());
        Assert.Equal("t-999", JsonNode.Parse(lines[999])!["custom_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Errored_canceled_and_expired_results_are_recorded_as_such_and_cost_nothing()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastBatches);
        // Upstream custom_ids are ModelMix's own ids, so the script keys on the prompt (ticket #3, #4, #5).
        static string Ticket(JsonObject p) => p["messages"]![0]!["content"]!.GetValue<string>();
        proxy.Fake.Batches.Outcome = (_, p) => Ticket(p).Contains("#4", StringComparison.Ordinal) ? FakeBatchOutcome.Canceled
            : Ticket(p).Contains("#5", StringComparison.Ordinal) ? FakeBatchOutcome.Expired
            : Ticket(p).Contains("#3", StringComparison.Ordinal) ? FakeBatchOutcome.Errored("overloaded_error", "Overloaded")
            : FakeBatchOutcome.Succeeded();
        using var http = new HttpClient { BaseAddress = proxy.ProxyUrl };

        using var submit = await http.PostAsync("v1/modelmix/batch", Job(
        [
            $$"""{"custom_id":"ok","params":{{Params(1)}}}""",
            $$"""{"custom_id":"big","params":{{Params(2, maxTokens: 200000)}}}""",
            $$"""{"custom_id":"e","params":{{Params(3)}}}""",
            $$"""{"custom_id":"c","params":{{Params(4)}}}""",
            $$"""{"custom_id":"x","params":{{Params(5)}}}""",
        ]));
        Assert.Equal(HttpStatusCode.OK, submit.StatusCode);
        var jobId = JsonNode.Parse(await submit.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        var status = await WaitForEndAsync(http, jobId);
        var counts = status["request_counts"]!;
        Assert.Equal((1, 2, 1, 1), (counts["succeeded"]!.GetValue<int>(), counts["errored"]!.GetValue<int>(), counts["canceled"]!.GetValue<int>(), counts["expired"]!.GetValue<int>()));

        var records = await ReadLedgerAsync(proxy.DbPath, 5);
        var byType = records.Where(r => r.Status == LedgerStatus.Error).Select(r => r.ErrorType!).Order().ToArray();
        Assert.Equal(["batch_canceled", "batch_expired", "invalid_request_error", "overloaded_error"], byType);
        Assert.All(records.Where(r => r.Status == LedgerStatus.Error), r => Assert.Equal(0m, r.Cost!.Value.Total));
        // The fixture's answer: 52 input / 31 output on Haiku 4.5 at half price = (52 + 155) / 1e6 / 2.
        Assert.Equal(0.0001035m, Assert.Single(records, r => r.Status == LedgerStatus.Ok).Cost!.Value.Total);

        var results = (await http.GetStringAsync($"v1/modelmix/batch/{jobId}/results")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonNode.Parse(l)!).ToDictionary(n => n["custom_id"]!.GetValue<string>(), n => n["result"]!["type"]!.GetValue<string>());
        Assert.Equal("errored", results["big"]);
        Assert.Equal("expired", results["x"]);
    }

    [Theory]
    [InlineData("""{"requests":[{"custom_id":"a","params":{"model":"claude-haiku-4-5","max_tokens":8,"messages":[]}},{"custom_id":"b","params":{"model":"claude-haiku-4-5","messages":[]}}]}""", "requests.1.params")]
    [InlineData("""{"requests":[{"custom_id":"a","params":{"model":"claude-haiku-4-5","max_tokens":8,"messages":[]}},{"custom_id":"a","params":{"model":"claude-haiku-4-5","max_tokens":8,"messages":[]}}]}""", "requests.1.custom_id")]
    [InlineData("""{"requests":[{"params":{"model":"no-such-model","max_tokens":8,"messages":[]}}]}""", "requests.0.params.model")]
    [InlineData("""{"requests":[{"params":{"model":"claude-haiku-4-5","max_tokens":8,"stream":true,"messages":[]}}]}""", "requests.0.params.stream")]
    [InlineData("""{"requests":[]}""", "requests")]
    [InlineData("""{"requests":[{"custom_id":"a"}]}""", "requests.0.params")]
    [InlineData("""not json""", "not valid JSON")]
    public async Task Bad_input_gets_an_anthropic_400_naming_the_request_and_queues_nothing(string body, string named)
    {
        await using var proxy = await ProxyHarness.StartAsync(FastBatches);
        using var http = new HttpClient { BaseAddress = proxy.ProxyUrl };
        using var response = await http.PostAsync("v1/modelmix/batch", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("error", error["type"]!.GetValue<string>());
        Assert.Equal("invalid_request_error", error["error"]!["type"]!.GetValue<string>());
        Assert.Contains(named, error["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        // Nothing queued, asked of the queue itself rather than waited for: the 400 is written after the request was
        // refused, so the queue is final now. Taking a submission finds nothing, none is open, none went upstream.
        var queue = proxy.Services.GetRequiredService<ModelMix.Batching.IBatchStore>();
        Assert.Null(await queue.BeginSubmissionAsync("mmxsub_probe", 100_000, long.MaxValue, new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.Empty(await queue.GetOpenSubmissionsAsync());
        Assert.Equal(0, proxy.Fake.Batches.CreateCount);
    }

    [Fact]
    public async Task The_same_idempotency_key_returns_the_same_job_and_its_requests_go_upstream_once()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastBatches);
        using var http = new HttpClient { BaseAddress = proxy.ProxyUrl };
        var ids = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/modelmix/batch") { Content = Job([$$"""{"custom_id":"only","params":{{Params(1)}}}"""]) };
            request.Headers.Add("Idempotency-Key", "nightly-2026-11-23");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(i == 1, response.Headers.Contains("x-modelmix-idempotent-replay"));
            ids.Add(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>());
        }

        Assert.Equal(ids[0], ids[1]);
        await WaitForEndAsync(http, ids[0]);
        Assert.Single(proxy.Fake.Batches.SubmittedCustomIds);
        Assert.Single(await ReadLedgerAsync(proxy.DbPath, 1));
    }

    [Fact]
    public async Task Messages_with_the_batch_header_answers_202_with_the_job_and_is_collected_later()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastBatches);
        using var http = new HttpClient { BaseAddress = proxy.ProxyUrl };
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(Params(7), Encoding.UTF8, "application/json") };
        request.Headers.Add("x-modelmix-batch", "true");
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var jobId = job["id"]!.GetValue<string>();
        Assert.Equal($"/v1/modelmix/batch/{jobId}", response.Headers.Location!.ToString());
        await WaitForEndAsync(http, jobId);
        Assert.Equal(0, proxy.Fake.MessageCount); // never sent to the synchronous API
        Assert.Equal(ServiceTier.Batch, Assert.Single(await ReadLedgerAsync(proxy.DbPath, 1)).Usage.ServiceTier);
    }

    [Fact]
    public async Task Serve_killed_after_submission_resumes_polling_on_restart_and_collects_every_result_once()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.Batches.InProgressPolls = 0;
        fake.Batches.ProcessingTime = TimeSpan.FromDays(1); // ends only when the test says so
        using var dir = new TempDirectory();
        var db = Path.Combine(dir.Path, "ledger.db");
        var environment = new Dictionary<string, string>
        {
            ["ModelMix__Batch__PollInterval"] = "00:00:00.100",
            ["ModelMix__Batch__MaxPollInterval"] = "00:00:00.200",
            ["ModelMix__Batch__IdleInterval"] = "00:00:00.050",
        };
        string jobId;
        await using (var serve = await ServeProcess.StartAsync(fake.BaseUrl, db, apiKey: "sk-test-upstream", environment))
        {
            using var http = new HttpClient { BaseAddress = serve.Url };
            using var submit = await http.PostAsync("v1/modelmix/batch", Job(Enumerable.Range(0, 50).Select(i => $$"""{"custom_id":"r{{i}}","params":{{Params(i)}}}""")));
            Assert.Equal(HttpStatusCode.OK, submit.StatusCode);
            jobId = JsonNode.Parse(await submit.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
            await WaitUntilAsync(() => fake.Batches.CreateCount == 1 && fake.Batches.RetrieveCount > 0);
            await serve.KillAsync();
        }

        fake.Batches.EndNow(Assert.Single(fake.Batches.BatchIds));
        await using (var restarted = await ServeProcess.StartAsync(fake.BaseUrl, db, apiKey: "sk-test-upstream", environment))
        {
            using var http = new HttpClient { BaseAddress = restarted.Url };
            var status = await WaitForEndAsync(http, jobId);
            Assert.Equal(50, status["request_counts"]!["succeeded"]!.GetValue<int>());
            await restarted.TerminateAsync();
        }

        Assert.Equal(1, fake.Batches.CreateCount);
        Assert.Equal(50, fake.Batches.SubmittedCustomIds.Count);
        var records = await ReadLedgerAsync(db, 50);
        Assert.Equal(50, records.Select(r => r.Id).Distinct().Count());
        // Each: the fixture's 52 input / 31 output on Haiku 4.5 at half price = (52 × $1 + 31 × $5) / 1e6 / 2 = 0.0001035.
        Assert.Equal(50 * 0.0001035m, records.Sum(r => r.Cost!.Value.Total));
    }

    internal static async Task<JsonNode> WaitForEndAsync(HttpClient http, string jobId)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var status = JsonNode.Parse(await http.GetStringAsync($"v1/modelmix/batch/{jobId}"))!;
            if (status["processing_status"]!.GetValue<string>() == "ended")
            {
                return status;
            }

            Assert.True(clock.Elapsed < Patience, "the job did not end: " + status.ToJsonString());
            await Task.Delay(100);
        }
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < Patience, "timed out waiting");
            await Task.Delay(50);
        }
    }

    internal static async Task<List<LedgerRecord>> ReadLedgerAsync(string db, int expected)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            await using var store = new SqliteLedgerStore(db);
            await store.MigrateAsync(CancellationToken.None);
            var records = new List<LedgerRecord>();
            await foreach (var record in store.ReadAsync(new LedgerQuery(), CancellationToken.None))
            {
                records.Add(record);
            }

            if (records.Count >= expected || clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                return records;
            }

            await Task.Delay(50);
        }
    }
}
