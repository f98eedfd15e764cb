using System.Net;
using System.Net.Http.Headers;
using System.Text;
using FakeAnthropic;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Support;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Server;
using Microsoft.Extensions.DependencyInjection;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// Clients that hang up (issue: "a client that hangs up before the answer still pays"): every upstream call the fake
/// served has one charged ledger row, whatever the client did — gone before the answer, while a stream was relayed,
/// on /v1/messages and /v1/chat/completions, streamed or not — and a budget cannot be bypassed by disconnecting.
/// </summary>
public sealed partial class ClientHangupTests
{
    // FakeUsage(1000, 200) on claude-haiku-4-5 ($1 / $5 per million, docs/pricing.md):
    // 1000 × $1/1e6 = $0.001 input + 200 × $5/1e6 = $0.001 output = $0.002 per call.
    private const decimal CallCost = 0.002m;
    private static readonly FakeUsage Usage = new(1000, 200);

    [Theory]
    [InlineData("v1/messages", false)]
    [InlineData("v1/chat/completions", false)]
    [InlineData("v1/responses", false)]
    [InlineData("v1/messages", true)]
    [InlineData("v1/chat/completions", true)]
    [InlineData("v1/responses", true)]
    public async Task A_client_gone_before_the_answer_leaves_the_call_running_and_it_is_recorded_with_its_real_usage(string path, bool stream)
    {
        await using var harness = await ProxyHarness.StartAsync();
        var release = new TaskCompletionSource();
        harness.Fake.SetDefault(FakeReply.Default.WithUsage(Usage).WithHold(release.Task));
        using var http = Client(harness);

        // Ten clients hang up while the upstream holds their answers (a stream: before its first byte); the answers
        // come only after the proxy saw them go.
        await HangUpWhileHeldAsync(harness, http, [.. Enumerable.Range(0, 10).Select(_ => Post(path, stream))], release);

        var records = await WaitForRecordsAsync(harness, 10);
        Assert.Equal(10, harness.Fake.MessageCount);
        Assert.All(harness.Fake.ServedMessages, served => Assert.True(served.Completed, "the proxy cancelled an upstream call its client left"));
        Assert.All(records, record =>
        {
            Assert.Equal((LedgerStatus.Ok, true, false), (record.Status, record.ClientDisconnected, record.UsageEstimated));
            Assert.Equal((1000L, 200L), (record.Usage.InputTokens, record.Usage.OutputTokens));
            Assert.Equal(CallCost, record.Cost!.Value.Total);
        });
        Assert.Equal(
            harness.Fake.ServedMessages.Select(served => served.RequestId).Order(),
            records.Select(record => record.UpstreamRequestId).Order());
    }

    [Theory]
    [InlineData("v1/messages")]
    [InlineData("v1/chat/completions")]
    [InlineData("v1/responses")]
    public async Task A_client_gone_mid_stream_leaves_the_stream_read_to_its_final_usage(string path)
    {
        await using var harness = await ProxyHarness.StartAsync();
        harness.Fake.SetDefault(FakeReply.Default.WithUsage(Usage).WithEventDelay(TimeSpan.FromMilliseconds(200)));
        using var http = Client(harness);

        // Each client reads the first bytes of the stream, then closes the connection (about 15 events, 3 s, still to come).
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            using var response = await http.SendAsync(Post(path, stream: true), HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await using var body = await response.Content.ReadAsStreamAsync();
            var first = new byte[64];
            Assert.True(await body.ReadAsync(first) > 0);
        }));

        var records = await WaitForRecordsAsync(harness, 4);
        Assert.All(harness.Fake.ServedMessages, served => Assert.True(served.Completed, "the proxy stopped reading a stream its client left"));
        Assert.All(records, record =>
        {
            // The final message_delta's usage, as the API bills it — not message_start's 1 output token.
            Assert.Equal((LedgerStatus.Ok, true, false), (record.Status, record.ClientDisconnected, record.UsageEstimated));
            Assert.Equal((1000L, 200L), (record.Usage.InputTokens, record.Usage.OutputTokens));
            Assert.Equal(CallCost, record.Cost!.Value.Total);
        });
    }

    [Fact]
    public async Task A_cascade_whose_client_left_records_its_tier_and_pays_for_no_rating_or_escalation()
    {
        await using var harness = await ProxyHarness.StartAsync();
        var release = new TaskCompletionSource();
        harness.Fake.SetDefault(FakeReply.Default.WithUsage(Usage).WithHold(release.Task));
        using var http = Client(harness);

        // The client leaves while the cascade's first tier is answering.
        await HangUpWhileHeldAsync(harness, http, [Post("v1/messages", stream: false, RequestBody(stream: false).Replace("claude-haiku-4-5", "auto-cascade", StringComparison.Ordinal))], release);

        var record = Assert.Single(await WaitForRecordsAsync(harness, 1));
        await WaitUntilRequestsEndedAsync(harness); // a rating or an escalation, if one were (wrongly) started, ran before that
        Assert.Equal(1, harness.Fake.MessageCount); // the tier only: no verifier call, no stronger tier for nobody
        Assert.True(Assert.Single(harness.Fake.ServedMessages).Completed);
        Assert.Equal(("cascade", LedgerStatus.Ok, true), (record.Policy, record.Status, record.ClientDisconnected));
        Assert.Single(await harness.ReadLedgerAsync());
    }

    [Fact]
    public async Task A_client_gone_during_the_meta_routers_classification_pays_for_it_and_no_answer_is_started()
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var replies = new Cascade.TextReplies();
        var release = new TaskCompletionSource();
        harness.Fake.Enqueue(replies.Message("{\"tier\":\"opus\",\"reason\":\"a plan\"}").WithHold(release.Task));
        using var http = Client(harness);

        await HangUpWhileHeldAsync(harness, http, [Post("v1/messages", stream: false, RequestBody(stream: false).Replace("claude-haiku-4-5", "auto-meta", StringComparison.Ordinal))], release);

        // The classification ran on (it is billed) and is recorded as the request's routing call (attempt 0) …
        var record = Assert.Single(await WaitForRecordsAsync(harness, 1));
        Assert.Equal((LedgerRecord.RoutingCallAttempt, LedgerStatus.Ok), (record.Attempt, record.Status));
        Assert.True(record.Cost!.Value.Total > 0m);
        await WaitUntilRequestsEndedAsync(harness); // an answering call, if one were (wrongly) started, ran before that
        Assert.Equal(1, harness.Fake.MessageCount); // … and no answer is paid for a client who left
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Shadow_calls_made_for_a_client_that_left_are_each_recorded_and_charged(bool stream)
    {
        // Every request sampled, compared by a judge: a live call, a candidate call and a judge call per request.
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:Shadow:CandidateModel"] = "claude-sonnet-4-6";
            settings["ModelMix:Shadow:DefaultRate"] = "1";
            settings["ModelMix:Shadow:Comparison"] = "Judge";
            settings["ModelMix:Shadow:JudgeModel"] = "claude-haiku-4-5";
        });
        using var http = Client(harness);
        if (stream)
        {
            // The client reads the first bytes of the live stream, then closes the connection.
            harness.Fake.SetDefault(FakeReply.Default.WithUsage(Usage).WithEventDelay(TimeSpan.FromMilliseconds(100)));
            using var response = await http.SendAsync(Post("v1/messages", stream: true), HttpCompletionOption.ResponseHeadersRead);
            await using var body = await response.Content.ReadAsStreamAsync();
            Assert.True(await body.ReadAsync(new byte[64]) > 0);
        }
        else
        {
            var release = new TaskCompletionSource();
            harness.Fake.SetDefault(FakeReply.Default.WithUsage(Usage).WithHold(release.Task));
            await HangUpWhileHeldAsync(harness, http, [Post("v1/messages", stream: false)], release);
        }

        var shadow = harness.Services.GetRequiredService<ProxyShadow>();
        await WaitUntilAsync(() => shadow.Statistics is var s && s.Compared + s.JudgeFailed + s.ShadowFailed + s.Skipped + s.Dropped + s.BudgetExhausted + s.Errors >= 1, "the shadow job never ran");
        await shadow.Runner.WhenIdleAsync();
        Assert.Equal(1, shadow.Statistics.Compared + shadow.Statistics.JudgeFailed); // the candidate and the judge were both called

        // Three upstream calls, each one charged ledger row: the live call (its client gone), the candidate, the judge.
        var records = await WaitForRecordsAsync(harness, 3);
        Assert.Equal(3, harness.Fake.ServedMessages.Count);
        Assert.All(records, record => Assert.True(record.Cost!.Value.Total > 0m, $"{record.Policy} row on {record.RoutedModel} is not charged"));
        var live = Assert.Single(records, record => record.Policy == "passthrough");
        Assert.NotNull(live.ShadowPairId);
        Assert.Equal((LedgerStatus.Ok, true, false), (live.Status, live.ClientDisconnected, live.UsageEstimated));
        Assert.Equal(CallCost, live.Cost!.Value.Total);
        Assert.Single(records, record => record.Policy == "shadow" && record.RoutedModel == "claude-sonnet-4-6");
        Assert.Single(records, record => record.Policy == "shadow-judge");
    }

    [Theory]
    [InlineData("v1/messages")]
    [InlineData("v1/chat/completions")]
    [InlineData("v1/responses")]
    public async Task A_client_gone_while_a_large_answer_is_relayed_leaves_its_call_recorded_and_charged(string path)
    {
        await using var harness = await ProxyHarness.StartAsync();
        // 4 MB of answer text: far more than the socket buffers hold, so the proxy is still writing when the client leaves.
        harness.Fake.SetDefault(FakeReply.Default.WithUsage(Usage).WithPadding(4 * 1024 * 1024));
        using var http = Client(harness);

        using (var response = await http.SendAsync(Post(path, stream: false), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await using var body = await response.Content.ReadAsStreamAsync();
            Assert.True(await body.ReadAsync(new byte[64]) > 0); // the body is being relayed: the client reads a little, then leaves
        }

        var record = Assert.Single(await WaitForRecordsAsync(harness, 1));
        Assert.Equal(Assert.Single(harness.Fake.ServedMessages).RequestId, record.UpstreamRequestId);
        Assert.Equal((LedgerStatus.Ok, false), (record.Status, record.UsageEstimated));
        Assert.Equal((1000L, 200L), (record.Usage.InputTokens, record.Usage.OutputTokens));
        Assert.Equal(CallCost, record.Cost!.Value.Total);

        // The proxy is unharmed: the next call is answered and recorded.
        harness.Fake.SetDefault(FakeReply.Default.WithUsage(Usage));
        using var next = await http.SendAsync(Post(path, stream: false));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(2, (await WaitForRecordsAsync(harness, 2)).Count);
    }

    [Fact]
    public async Task Past_the_orphan_limit_a_call_is_stopped_and_billed_its_worst_case()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:MaxOrphanedCalls"] = "0");
        harness.Fake.SetDefault(FakeReply.Default.WithUsage(Usage).WithDelay(TimeSpan.FromSeconds(30)));
        using var http = Client(harness);
        var body = RequestBody(stream: false);

        await HangUpOnceReceivedAsync(harness, http, Post("v1/messages", stream: false));

        var record = Assert.Single(await WaitForRecordsAsync(harness, 1));
        Assert.False(Assert.Single(harness.Fake.ServedMessages).Completed); // stopped: the fake saw its caller go
        Assert.Equal((LedgerStatus.Failed, "client_disconnected", true, true), (record.Status, record.ErrorType, record.ClientDisconnected, record.UsageEstimated));

        // The estimate (docs/ledger.md): input = body bytes / 4 rounded up, output = max_tokens (100).
        var input = (Encoding.UTF8.GetByteCount(body) + 3) / 4;
        Assert.Equal((input, 100L), (record.Usage.InputTokens, record.Usage.OutputTokens));
        // input × $1/1e6 + 100 × $5/1e6
        Assert.Equal((input * 1m / 1_000_000m) + (100 * 5m / 1_000_000m), record.Cost!.Value.Total);
    }

    [Fact]
    public async Task A_stream_stopped_after_its_client_left_is_billed_at_least_what_was_relayed()
    {
        // 0 bytes may be read after the client left: the proxy stops the stream on the first chunk that arrives then.
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:MaxOrphanedStreamBytes"] = "0");
        harness.Fake.SetDefault(FakeReply.Default.WithUsage(Usage).WithEventDelay(TimeSpan.FromMilliseconds(150)));
        using var http = Client(harness);

        using (var response = await http.SendAsync(Post("v1/messages", stream: true), HttpCompletionOption.ResponseHeadersRead))
        {
            await using var stream = await response.Content.ReadAsStreamAsync();
            using var reader = new StreamReader(stream);
            // Read up to the first text delta ("Pennies"), then hang up.
            while (await reader.ReadLineAsync() is { } line && !line.Contains("Pennies", StringComparison.Ordinal))
            {
            }
        }

        var record = Assert.Single(await WaitForRecordsAsync(harness, 1));
        Assert.Equal((LedgerStatus.Failed, "client_disconnected", true, true), (record.Status, record.ErrorType, record.ClientDisconnected, record.UsageEstimated));
        Assert.Equal(1000L, record.Usage.InputTokens); // message_start's exact input
        // At least one token per delta seen, and one per 3 bytes of their text: "Pennies" alone is 7 bytes → 3 tokens.
        Assert.InRange(record.Usage.OutputTokens, 3L, 200L);
        Assert.True(record.Cost!.Value.Total > 1000 * 1m / 1_000_000m);
    }

    [Fact]
    public async Task An_orphaned_stream_read_on_longer_than_UpstreamTimeout_after_its_client_left_is_stopped_and_billed_its_estimate()
    {
        // The time bound of reading on for a client that left (docs/ledger.md, "Clients that hang up"): UpstreamTimeout
        // (here 1 s) from the moment the client left. The stream sends an event every 400 ms (about 15 events, 6 s), so
        // it is still running well past 1 s after the client goes; no byte bound (the default 64 MB is never reached).
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:UpstreamTimeout"] = "00:00:01");
        harness.Fake.SetDefault(FakeReply.Default.WithUsage(Usage).WithEventDelay(TimeSpan.FromMilliseconds(400)));
        using var http = Client(harness);

        using (var response = await http.SendAsync(Post("v1/messages", stream: true), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await using var body = await response.Content.ReadAsStreamAsync();
            Assert.True(await body.ReadAsync(new byte[64]) > 0); // the first bytes, then the client leaves
        }

        var record = Assert.Single(await WaitForRecordsAsync(harness, 1));
        Assert.False(Assert.Single(harness.Fake.ServedMessages).Completed); // stopped: the fake saw its caller go before the end
        Assert.Equal((LedgerStatus.Failed, "client_disconnected", true, true), (record.Status, record.ErrorType, record.ClientDisconnected, record.UsageEstimated));
        Assert.Equal(1000L, record.Usage.InputTokens); // message_start's exact input
        Assert.True(record.Cost!.Value.Total >= 1000 * 1m / 1_000_000m); // at least the input: 1000 × $1/1e6
    }

    [Theory]
    [InlineData("v1/messages")]
    [InlineData("v1/chat/completions")]
    [InlineData("v1/responses")]
    public async Task A_stalled_stream_ends_with_an_error_event_and_is_recorded(string path)
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:StreamIdleTimeout"] = "00:00:01");
        // A stream that sends its first event, then nothing for ten minutes.
        harness.Fake.SetDefault(FakeReply.Default.WithUsage(Usage).WithEventDelay(TimeSpan.FromMinutes(10)));
        using var http = Client(harness);

        using var response = await http.SendAsync(Post(path, stream: true), HttpCompletionOption.ResponseHeadersRead);
        var text = await response.Content.ReadAsStringAsync(); // ends when the proxy ends the stream (the client times out at 60 s)

        Assert.Contains("sent nothing for 00:00:01", text, StringComparison.Ordinal);
        Assert.Contains(path switch { "v1/messages" => "event: error", "v1/responses" => "event: response.failed", _ => "\"error\"" }, text, StringComparison.Ordinal);
        var record = Assert.Single(await WaitForRecordsAsync(harness, 1));
        Assert.Equal((LedgerStatus.Error, "stream_idle_timeout", false, true), (record.Status, record.ErrorType, record.ClientDisconnected, record.UsageEstimated));
        Assert.Equal(1000L, record.Usage.InputTokens);
    }

    [Theory]
    [InlineData("v1/messages")]
    [InlineData("v1/chat/completions")]
    [InlineData("v1/responses")]
    public async Task Disconnecting_early_does_not_get_a_key_past_its_budget(string path)
    {
        // Cap $0.01: five calls of $0.002. Each request holds its worst case (input estimate + 100 × $5/1e6 ≥ $0.0005)
        // until its upstream call is recorded, so clients that hang up cannot start more than the cap covers.
        const decimal Cap = 0.01m;
        // On a clock anchored at noon: the day window read after the waves is the one the requests were charged to.
        await using var harness = await ProxyHarness.StartAsync(time: new AnchoredClock());
        CreatedApiKey key;
        await using (var keys = new SqliteKeyStore(harness.DbPath))
        {
            key = await keys.CreateAsync("leaver", [BudgetCap.Parse("0.01/day")]);
        }

        using var http = Client(harness);

        // 40 requests in waves of 5, every client gone before its answer, so that earlier calls settle and later ones
        // see the spend.
        for (var wave = 0; wave < 8; wave++)
        {
            var release = new TaskCompletionSource();
            harness.Fake.SetDefault(FakeReply.Default.WithUsage(Usage).WithHold(release.Task));
            await HangUpWhileHeldAsync(harness, http, [.. Enumerable.Range(0, 5).Select(_ =>
            {
                var request = Post(path, stream: wave % 2 == 0);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
                return request;
            })], release);
            await WaitUntilSettledAsync(harness, key); // the wave's orphaned calls finished, recorded and settled
        }

        await harness.StopProxyAsync(); // every hold settled, the ledger flushed

        var records = (await harness.ReadLedgerAsync()).Where(record => record.ErrorType?.StartsWith("refused:", StringComparison.Ordinal) != true).ToList();
        var served = harness.Fake.ServedMessages;
        Assert.Equal(served.Count, records.Count); // one row per upstream call: none free
        Assert.All(records, record => Assert.True(record.ClientDisconnected));
        var recorded = records.Sum(record => record.Cost!.Value.Total);
        Assert.Equal(served.Count * CallCost, recorded);
        Assert.True(recorded <= Cap, $"recorded spend {recorded} exceeds the cap {Cap}");
        Assert.True(served.Count < 40, "no request was refused: the budget was not reached");

        await using var budgets = new SqliteBudgetStore(harness.DbPath);
        var usage = await budgets.GetUsageAsync(key.Info.BudgetScope, BudgetWindow.Day, harness.Time!.GetUtcNow());
        Assert.Equal(recorded, usage.SpentUsd); // the budget was charged exactly what the ledger holds
        Assert.Equal(0m, usage.ReservedUsd);
        SqliteConnection.ClearAllPools();
    }

    private static async Task WaitUntilSettledAsync(ProxyHarness harness, CreatedApiKey key)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var budgets = new SqliteBudgetStore(harness.DbPath);
        while (true)
        {
            var usage = await budgets.GetUsageAsync(key.Info.BudgetScope, BudgetWindow.Day, harness.Time!.GetUtcNow());
            var records = (await harness.ReadLedgerAsync()).Count(record => record.ErrorType?.StartsWith("refused:", StringComparison.Ordinal) != true);
            if (usage.ReservedUsd == 0m && records == harness.Fake.ServedMessages.Count)
            {
                return;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the wave's calls never settled");
            await Task.Delay(50);
        }
    }

    // MaxResponseDrainSize = 0: a response disposed unread closes its connection (the default drains it to reuse it).
    private static HttpClient Client(ProxyHarness harness) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = 64, MaxResponseDrainSize = 0 }) { BaseAddress = harness.ProxyUrl, Timeout = TimeSpan.FromSeconds(60) };

    private static string RequestBody(bool stream, string path = "v1/messages") => path == "v1/responses"
        ? $$"""{"model":"claude-haiku-4-5","max_output_tokens":100,"stream":{{(stream ? "true" : "false")}},"input":"Write a haiku about money."}"""
        : $$"""{"model":"claude-haiku-4-5","max_tokens":100,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Write a haiku about money."}]}""";

    private static HttpRequestMessage Post(string path, bool stream, string? body = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body ?? RequestBody(stream, path), Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("anthropic-version", "2023-06-01");
        return request;
    }

    /// <summary>
    /// Sends <paramref name="request"/> and closes the connection once the fake upstream has received the call (polled, with
    /// a deadline) — never before the call reached the upstream, however loaded the machine (a fixed 200 ms wait did, under
    /// load, and the call was then never made). Returns early if the proxy answered first (the test's assertions then fail).
    /// </summary>
    private static async Task HangUpOnceReceivedAsync(ProxyHarness harness, HttpClient http, HttpRequestMessage request)
    {
        var before = harness.Fake.MessageCount;
        using var leave = new CancellationTokenSource();
        var call = Task.Run(async () =>
        {
            try
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, leave.Token);
                await using var body = await response.Content.ReadAsStreamAsync(leave.Token);
                await body.CopyToAsync(Stream.Null, leave.Token);
            }
            catch (OperationCanceledException) when (leave.IsCancellationRequested)
            {
                // hung up
            }
            finally
            {
                request.Dispose();
            }
        });

        await WaitUntilAsync(() => harness.Fake.MessageCount > before || call.IsCompleted, "the request never reached the upstream");
        await leave.CancelAsync();
        await call;
    }

    /// <summary>
    /// Sends <paramref name="requests"/> and has every client hang up once each request has either reached the fake
    /// (whose answer is held by <paramref name="release"/>) or been answered by the proxy itself (a refusal). The held
    /// answers are released only after the proxy has adopted every call whose client left: no timer races the proxy,
    /// however loaded the machine.
    /// </summary>
    private static async Task HangUpWhileHeldAsync(ProxyHarness harness, HttpClient http, IReadOnlyList<HttpRequestMessage> requests, TaskCompletionSource release)
    {
        var before = harness.Fake.MessageCount;
        var answered = 0;
        using var leave = new CancellationTokenSource();
        var calls = requests.Select(async request =>
        {
            try
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, leave.Token);
                Interlocked.Increment(ref answered);
                await using var body = await response.Content.ReadAsStreamAsync(leave.Token);
                await body.CopyToAsync(Stream.Null, leave.Token);
            }
            catch (OperationCanceledException) when (leave.IsCancellationRequested)
            {
                // hung up
            }
            finally
            {
                request.Dispose();
            }
        }).ToList();

        await WaitUntilAsync(() => harness.Fake.MessageCount - before + Volatile.Read(ref answered) >= requests.Count, "the requests never reached the upstream");
        await leave.CancelAsync();
        await Task.WhenAll(calls);
        var held = harness.Fake.MessageCount - before;
        var hangups = harness.Services.GetRequiredService<ClientHangups>();
        await WaitUntilAsync(() => hangups.Orphans >= held, "the proxy never saw its clients leave");
        release.SetResult();
    }

    /// <summary>
    /// Waits until the requests whose clients left are over: each holds its orphan slot (<see cref="ClientHangups.Orphans"/>)
    /// until the proxy's pipeline has finished with it, every upstream call it makes (awaited, not started in the
    /// background) included — a condition, where a fixed wait could pass before a wrong call was made.
    /// </summary>
    private static Task WaitUntilRequestsEndedAsync(ProxyHarness harness)
    {
        var hangups = harness.Services.GetRequiredService<ClientHangups>();
        return WaitUntilAsync(() => hangups.Orphans == 0, "the requests of the clients that left to end");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string failure)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), failure);
            await Task.Delay(10);
        }
    }

    /// <summary>The ledger's upstream attempts once <paramref name="count"/> are there (orphaned calls finish after their clients left).</summary>
    private static async Task<List<LedgerRecord>> WaitForRecordsAsync(ProxyHarness harness, int count)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var records = (await harness.ReadLedgerAsync()).Where(record => record.ErrorType?.StartsWith("refused:", StringComparison.Ordinal) != true).ToList();
            if (records.Count >= count || clock.Elapsed > TimeSpan.FromSeconds(30))
            {
                Assert.Equal(count, records.Count);
                return records;
            }

            await Task.Delay(50);
        }
    }
}
