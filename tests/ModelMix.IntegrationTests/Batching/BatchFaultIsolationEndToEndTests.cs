using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using FakeAnthropic;
using ModelMix.IntegrationTests.Cli;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Batching;

/// <summary>
/// Issue 20, item 1, end to end: one upstream lying in every way at once about some jobs' batches, while the proxy
/// serves <c>/v1/messages</c> all along; the healthy jobs complete, the poisoned ones end quarantined with their
/// reasons, and a restart on the same database — poison still in it — keeps serving.
/// </summary>
public sealed class BatchFaultIsolationEndToEndTests
{
    [Fact]
    public async Task A_lying_upstream_never_stops_the_proxy_healthy_jobs_complete_poisoned_ones_are_quarantined_and_a_restart_keeps_serving()
    {
        await using var proxy = await ProxyHarness.StartAsync(settings =>
        {
            BatchLyingUpstreamTests.FastFaults(settings);
            settings["ModelMix:Batch:MaxRequestsPerBatch"] = "1"; // one Message Batch per request: each lie hits one job
        });
        var batches = proxy.Fake.Batches;
        var flakyPolls = 0;
        batches.Lie = a => Lie(batches, a, ref flakyPolls);
        using var http = proxy.Http();

        await using var traffic = Traffic.Start(proxy.ProxyUrl);
        var healthy = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            healthy.Add(await BatchLyingUpstreamTests.SubmitAsync(http, $"healthy-{i}", $"healthy-{i}b"));
        }

        var poisoned = new Dictionary<string, string>
        {
            ["poll-missing"] = "processing_status",
            ["poll-unknown"] = "exploded",
            ["poll-garbage"] = "JSON",
            ["create-lost"] = "\"id\"",
            ["result-missing"] = "no result",
        };
        var poisonedJobs = new Dictionary<string, string>();
        foreach (var marker in poisoned.Keys)
        {
            poisonedJobs[marker] = await BatchLyingUpstreamTests.SubmitAsync(http, marker);
        }

        var repeated = await BatchLyingUpstreamTests.SubmitAsync(http, "repeat-id");
        var flaky = await BatchLyingUpstreamTests.SubmitAsync(http, "flaky");
        var unreadable = await BatchLyingUpstreamTests.SubmitAsync(http, "fine", "result-unreadable");

        foreach (var job in healthy.Append(repeated).Append(flaky))
        {
            var ended = await BatchLyingUpstreamTests.WaitForEndAsync(proxy, http, job, TimeSpan.FromSeconds(60));
            Assert.Equal(ended["total"]!.GetValue<int>(), BatchLyingUpstreamTests.Count(ended, "succeeded"));
            Assert.Null(ended["quarantined_at"]?.GetValue<string>());
        }

        foreach (var (marker, reason) in poisoned)
        {
            var ended = await BatchLyingUpstreamTests.WaitForEndAsync(proxy, http, poisonedJobs[marker], TimeSpan.FromSeconds(60));
            BatchLyingUpstreamTests.AssertQuarantined(ended, reason);
            Assert.Equal(1, BatchLyingUpstreamTests.Count(ended, "errored"));
        }

        var partly = await BatchLyingUpstreamTests.WaitForEndAsync(proxy, http, unreadable, TimeSpan.FromSeconds(60));
        Assert.Equal((1, 1), (BatchLyingUpstreamTests.Count(partly, "succeeded"), BatchLyingUpstreamTests.Count(partly, "errored")));
        Assert.Null(partly["quarantined_at"]?.GetValue<string>());

        // Every answered request is in the ledger once; every quarantined one has its error record.
        var records = await BatchProxyTests.ReadLedgerAsync(proxy.DbPath, 21);
        var batchRecords = records.Where(r => r.RequestId?.StartsWith("mmxjob_", StringComparison.Ordinal) == true).ToList();
        Assert.Equal(8 + 1 + 1 + 1, batchRecords.Count(r => r.Status == LedgerStatus.Ok));
        Assert.Equal(poisoned.Count, batchRecords.Count(r => r.ErrorType == "batch_quarantined"));
        Assert.Equal(1, batchRecords.Count(r => r.ErrorType == "batch_invalid_result"));
        Assert.Equal(batchRecords.Count, batchRecords.Select(r => r.Id).Distinct().Count());

        // A job poisoned just before a stop: the restart meets it in flight, on the same database, with the upstream still lying.
        var creates = batches.CreateCount; // before the submit: the batcher is woken by it and may create at once
        var inFlight = await BatchLyingUpstreamTests.SubmitAsync(http, "poll-missing-again");
        await BatchProxyTests.WaitUntilAsync(() => batches.CreateCount > creates);
        var sentBefore = batches.CreateCount;
        await traffic.StopAsync();
        Assert.True(traffic.Failures.IsEmpty, "the proxy failed requests while the upstream lied:\n" + string.Join('\n', traffic.Failures.Take(5)));
        Assert.True(traffic.Served > 10, $"only {traffic.Served} requests were served");

        await proxy.StopProxyAsync();
        await proxy.StartProxyAsync();
        using var again = proxy.Http();
        await using var afterRestart = Traffic.Start(proxy.ProxyUrl);
        var quarantined = await BatchLyingUpstreamTests.WaitForEndAsync(proxy, again, inFlight, TimeSpan.FromSeconds(60));
        BatchLyingUpstreamTests.AssertQuarantined(quarantined, "processing_status");
        await Task.Delay(1500); // well past the "stops again within a second" of the report
        await afterRestart.StopAsync();
        Assert.True(afterRestart.Failures.IsEmpty, "the restarted proxy failed requests:\n" + string.Join('\n', afterRestart.Failures.Take(5)));
        BatchLyingUpstreamTests.AssertHostRunning(proxy);
        await BatchLyingUpstreamTests.AssertServingAsync(proxy);

        // What ended before the restart stays ended as it was; nothing was sent again.
        foreach (var (marker, reason) in poisoned)
        {
            BatchLyingUpstreamTests.AssertQuarantined(JsonNode.Parse(await again.GetStringAsync($"v1/modelmix/batch/{poisonedJobs[marker]}"))!, reason);
        }

        Assert.Equal(sentBefore, batches.CreateCount);
    }

    [Fact]
    public async Task The_real_serve_process_keeps_running_when_the_upstream_lies_and_after_a_restart_on_the_same_database()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.Batches.Lie = a => a.Call switch
        {
            "retrieve" => a.Without("processing_status"),
            "results" => a.Failing(500), // else the batcher collects the results it finds before quarantining
            _ => null,
        };
        using var dir = new TempDirectory();
        var db = Path.Combine(dir.Path, "ledger.db");
        var environment = new Dictionary<string, string>
        {
            ["ModelMix__Batch__PollInterval"] = "00:00:00.100",
            ["ModelMix__Batch__MaxPollInterval"] = "00:00:00.200",
            ["ModelMix__Batch__IdleInterval"] = "00:00:00.050",
            ["ModelMix__Batch__MaxJobFailures"] = "3",
            ["ModelMix__Batch__RetryDelay"] = "00:00:00.050",
            ["ModelMix__Batch__MaxRetryDelay"] = "00:00:00.200",
        };

        string jobId;
        await using (var serve = await ServeProcess.StartAsync(fake.BaseUrl, db, apiKey: "sk-test-upstream", environment))
        {
            using var http = new HttpClient { BaseAddress = serve.Url };
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(BatchLyingUpstreamTests.Ticket("any key"), Encoding.UTF8, "application/json") };
            request.Headers.Add("x-modelmix-batch", "true"); // the report: one request with this header, from any key
            using var queued = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Accepted, queued.StatusCode);
            jobId = JsonNode.Parse(await queued.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
            await KeepsRunningAsync(serve, TimeSpan.FromSeconds(3));
            var job = JsonNode.Parse(await http.GetStringAsync($"v1/modelmix/batch/{jobId}"))!;
            Assert.NotNull(job["quarantined_at"]?.GetValue<string>());
            await serve.TerminateAsync();
            Assert.Equal(0, serve.ExitCode); // asked to stop: a clean exit
        }

        // The same database, the upstream still lying: this one did not even last a second before.
        var retrieves = fake.Batches.RetrieveCount;
        await using (var restarted = await ServeProcess.StartAsync(fake.BaseUrl, db, apiKey: "sk-test-upstream", environment))
        {
            await KeepsRunningAsync(restarted, TimeSpan.FromSeconds(3));
            Assert.Equal(retrieves, fake.Batches.RetrieveCount); // a quarantined job is never polled again
            await restarted.TerminateAsync();
        }
    }

    /// <summary>Asserts the process answers /healthz and /v1/messages throughout <paramref name="duration"/>.</summary>
    private static async Task KeepsRunningAsync(ServeProcess serve, TimeSpan duration)
    {
        using var http = new HttpClient { BaseAddress = serve.Url, Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            Assert.False(serve.HasExited, $"modelmix serve exited (code {(serve.HasExited ? serve.ExitCode : 0)}):\n" + string.Join('\n', serve.Output.TakeLast(15)));
            try
            {
                using var health = await http.GetAsync("healthz");
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);
                using var message = await http.PostAsync("v1/messages", new StringContent(BatchLyingUpstreamTests.Ticket("sync"), Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.OK, message.StatusCode);
            }
            catch (HttpRequestException exception)
            {
                await Task.Delay(500); // let the exit land, to report its code
                Assert.Fail($"modelmix serve stopped answering ({exception.Message}); exited: {serve.HasExited}{(serve.HasExited ? $", code {serve.ExitCode}" : string.Empty)}\n" + string.Join('\n', serve.Output.TakeLast(15)));
            }

            await Task.Delay(200);
        }
    }

    /// <summary>The lies of the end-to-end test, by the marker in the batch's (one) request.</summary>
    private static FakeBatchAnswer? Lie(FakeBatches batches, FakeBatchAnswer a, ref int flakyPolls)
    {
        bool Is(string marker) => BatchLyingUpstreamTests.Holds(batches, a, marker);
        switch (a.Call)
        {
            case "create" when a.Status == 200 && Is("create-lost"):
                return a.Without("id");
            case "create" when a.Status == 200 && Is("repeat-id") && batches.BatchIds.Count > 1:
                return a.With("id", batches.BatchIds[0]);
            case "list":
                // The list hides the batches of the lost creates, so they cannot be adopted.
                return a.EditJson(o => o["data"] = new JsonArray([.. o["data"]!.AsArray().Where(b => !batches.RequestsOf(b!["id"]!.GetValue<string>()).Any(r => r.Params.ToJsonString().Contains("create-lost", StringComparison.Ordinal))).Select(b => b!.DeepClone())]));
            case "retrieve" when Is("poll-missing"):
                return a.Without("processing_status");
            case "retrieve" when Is("poll-unknown"):
                return a.With("processing_status", "exploded");
            case "retrieve" when Is("poll-garbage"):
                return a.Garbage();
            case "retrieve" when Is("flaky") && Interlocked.Increment(ref flakyPolls) <= 5:
                return a.Failing(503);
            case "results" when Is("poll-missing") || Is("poll-unknown") || Is("poll-garbage"):
                return a.Failing(500); // else the batcher collects the results it finds before quarantining

            case "results" when a.Status == 200:
            {
                var edited = a.EditLines(line =>
                    BatchLyingUpstreamTests.LineIs(batches, a, line, "result-missing") ? null
                    : BatchLyingUpstreamTests.LineIs(batches, a, line, "result-unreadable") ? "{\"custom_id\":" + JsonNode.Parse(line)!["custom_id"]!.ToJsonString() + ",\"result\":{\"type\":\"succeeded\",\"message\":{}}}"
                    : line);
                return edited with { Body = "garbage line\n" + edited.Body };
            }

            default:
                return null;
        }
    }

    /// <summary>/healthz and /v1/messages every 100 ms in the background; counts what was served and what failed.</summary>
    private sealed class Traffic : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private Task _loop = Task.CompletedTask;
        private int _served;

        public ConcurrentQueue<string> Failures { get; } = new();

        public int Served => Volatile.Read(ref _served);

        public static Traffic Start(Uri proxy)
        {
            var traffic = new Traffic();
            traffic._loop = Task.Run(() => traffic.RunAsync(proxy));
            return traffic;
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await _loop;
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            _stop.Dispose();
        }

        private async Task RunAsync(Uri proxy)
        {
            using var http = new HttpClient { BaseAddress = proxy, Timeout = TimeSpan.FromSeconds(10) };
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    using var health = await http.GetAsync("healthz", _stop.Token);
                    using var message = await http.PostAsync("v1/messages", new StringContent(BatchLyingUpstreamTests.Ticket("sync"), Encoding.UTF8, "application/json"), _stop.Token);
                    if (health.StatusCode != HttpStatusCode.OK || message.StatusCode != HttpStatusCode.OK)
                    {
                        Failures.Enqueue($"/healthz {(int)health.StatusCode}, /v1/messages {(int)message.StatusCode}");
                    }
                    else
                    {
                        Interlocked.Increment(ref _served);
                    }

                    await Task.Delay(100, _stop.Token);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    Failures.Enqueue(exception.Message);
                    await Task.Delay(100);
                }
            }
        }
    }
}
