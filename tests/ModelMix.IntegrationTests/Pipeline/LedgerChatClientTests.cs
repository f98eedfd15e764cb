using Anthropic.Exceptions;
using FakeAnthropic;
using Microsoft.Extensions.AI;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;

namespace ModelMix.IntegrationTests.Pipeline;

public sealed class LedgerChatClientTests : LedgerPipelineTest
{
    private const string Prompt = "Is it warm enough in Paris today for the linen field jacket?";

    private IChatClient Pipeline(string defaultModel = "claude-haiku-4-5") =>
        new ChatClientBuilder(Sdk.AsIChatClient(defaultModel)).UseModelMixLedger(Recorder).Build();

    [Fact]
    public async Task A_cache_write_on_Sonnet_is_recorded_with_the_exact_TTL_split_and_cost()
    {
        Server.Enqueue(FakeReply.Message("messages/response-cache-write.json"));
        using var chat = Pipeline();
        var options = new ChatOptions { ModelId = "claude-sonnet-4-5" }.WithTaskLabel("extraction").WithSessionId("session-7").WithKeyId("key-1");

        var response = await chat.GetResponseAsync(Prompt, options);

        Assert.Equal("claude-sonnet-4-5-20250929", response.ModelId);
        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal(new TokenUsage(29, 87, CacheWrite5mTokens: 3150, CacheWrite1hTokens: 2412, InferenceGeo: "not_available"), record.Usage);
        // Sonnet 4.5 per MTok: $3 in, $15 out, $3.75 5-minute write (×1.25), $6 1-hour write (×2). 29 × 3 / 1e6 = 0.000087;
        // 87 × 15 / 1e6 = 0.001305; 3150 × 3.75 / 1e6 = 0.0118125; 2412 × 6 / 1e6 = 0.014472. Total 0.0276765.
        Assert.Equal(new CostBreakdown(Input: 0.000087m, Output: 0.001305m, CacheWrite5m: 0.0118125m, CacheWrite1h: 0.014472m, CacheRead: 0m), record.Cost);
        Assert.Equal(0.0276765m, record.Cost!.Value.Total);
        Assert.Equal(LedgerStatus.Ok, record.Status);
        Assert.Equal(200, record.HttpStatus);
        Assert.False(record.Streaming);
        Assert.Equal("claude-sonnet-4-5", record.RequestedModel);
        Assert.Equal("claude-sonnet-4-5", record.RoutedModel);
        Assert.Equal("claude-sonnet-4-5-20250929", record.ResponseModel);
        Assert.Equal("extraction", record.TaskLabel);
        Assert.Equal("session-7", record.SessionId);
        Assert.Equal("key-1", record.KeyId);
        Assert.Equal("passthrough", record.Policy);
        Assert.Equal(1, record.Attempt);
        Assert.Null(record.ErrorType);
    }

    [Fact]
    public async Task Without_a_model_in_the_options_the_inner_clients_default_model_is_recorded()
    {
        Server.Enqueue(FakeReply.Message("messages/response-text.json"));
        using var chat = Pipeline("claude-haiku-4-5");

        await chat.GetResponseAsync("Write a haiku about cost.");

        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal("claude-haiku-4-5", record.RequestedModel);
        Assert.Equal("claude-haiku-4-5", record.RoutedModel);
        Assert.Equal("claude-haiku-4-5-20251001", record.ResponseModel);
        Assert.Equal(new TokenUsage(19, 33, InferenceGeo: "not_available"), record.Usage);
        Assert.Equal(19 * 1m / 1_000_000 + 33 * 5m / 1_000_000, record.Cost!.Value.Total); // Haiku 4.5: $1 in, $5 out per MTok
    }

    [Fact]
    public async Task A_stream_is_recorded_once_with_its_cache_reads_when_it_completes()
    {
        Server.Enqueue(FakeReply.Stream("streaming/tool-use.sse"));
        using var chat = Pipeline("claude-sonnet-4-5");

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync(Prompt))
        {
            updates.Add(update);
        }

        Assert.Equal(ChatFinishReason.ToolCalls, updates.ToChatResponse().FinishReason);
        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.True(record.Streaming);
        Assert.Equal(LedgerStatus.Ok, record.Status);
        Assert.Equal(new TokenUsage(29, 87, CacheReadTokens: 5562, InferenceGeo: "not_available"), record.Usage);
        // Sonnet 4.5: 29 × $3 / 1e6 = 0.000087; 87 × $15 / 1e6 = 0.001305; reads at $0.30 (×0.1).
        Assert.Equal(0.000087m + 0.001305m + 5562 * 0.30m / 1_000_000, record.Cost!.Value.Total);
        Assert.Equal("claude-sonnet-4-5-20250929", record.ResponseModel);
    }

    [Fact]
    public async Task A_streamed_cache_write_keeps_the_TTL_split_that_UsageDetails_loses()
    {
        Server.Enqueue(FakeReply.Stream("streaming/tool-use.sse").WithUsage(input: 29, output: 87, cacheWrite5m: 3150, cacheWrite1h: 2412));
        using var chat = Pipeline("claude-sonnet-4-5");

        UsageDetails? reported = null;
        await foreach (var update in chat.GetStreamingResponseAsync(Prompt))
        {
            reported = update.Contents.OfType<UsageContent>().SingleOrDefault()?.Details ?? reported;
        }

        Assert.Equal(5562, reported!.AdditionalCounts!["CacheCreationInputTokens"]); // no split in UsageDetails
        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal(3150, record.Usage.CacheWrite5mTokens);
        Assert.Equal(2412, record.Usage.CacheWrite1hTokens);
        Assert.Equal(0.0276765m, record.Cost!.Value.Total); // as in the first test: 0.000087 + 0.001305 + 0.0118125 + 0.014472
    }

    [Fact]
    public async Task A_consumer_that_breaks_early_still_gets_a_record_with_the_usage_seen_so_far()
    {
        Server.Enqueue(FakeReply.Stream("streaming/tool-use.sse"));
        using var chat = Pipeline("claude-sonnet-4-5");

        await foreach (var update in chat.GetStreamingResponseAsync(Prompt))
        {
            if (update.Text.Length > 0)
            {
                break;
            }
        }

        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.True(record.Streaming);
        Assert.Equal(LedgerStatus.Failed, record.Status);
        Assert.Equal("stream_abandoned", record.ErrorType);
        // message_start's usage (input and cache read exact); the output is estimated from what was received before
        // the break (UsageEstimate): one delta, "I'll check" = 10 bytes → ⌈10 / 3⌉ = 4 tokens, above the placeholder 2.
        Assert.Equal(new TokenUsage(29, 4, CacheReadTokens: 5562, InferenceGeo: "not_available"), record.Usage);
        Assert.Equal((true, true), (record.UsageEstimated, record.ClientDisconnected));
        Assert.NotNull(record.Cost);
    }

    [Fact]
    public async Task A_call_the_caller_cancels_after_sending_is_billed_its_documented_worst_case()
    {
        var release = new TaskCompletionSource();
        Server.Enqueue(FakeReply.Message().WithHold(release.Task));
        using var chat = Pipeline();
        using var cancel = new CancellationTokenSource();

        // The caller cancels once the call has reached the upstream (no timer racing the send).
        var call = chat.GetResponseAsync(Prompt, new ChatOptions { MaxOutputTokens = 200 }, cancel.Token);
        await WaitUntilAsync(() => Server.MessageCount == 1);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        release.SetResult();

        Assert.Single(Server.ServedMessages);
        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal((LedgerStatus.Failed, "cancelled", true, true), (record.Status, record.ErrorType, record.UsageEstimated, record.ClientDisconnected));
        // UsageEstimate.Unanswered: the prompt's 60 characters at 3.5 per token → ⌈17.1⌉ = 18 input tokens, and the
        // output at its bound, MaxOutputTokens = 200. Haiku 4.5: 18 × $1/M + 200 × $5/M = 0.000018 + 0.001 = 0.001018.
        Assert.Equal(new TokenUsage(18, 200), record.Usage);
        Assert.Equal(0.001018m, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task A_stream_the_caller_cancels_mid_way_is_billed_its_input_and_at_least_what_it_received()
    {
        Server.Enqueue(FakeReply.Stream().WithUsage(new FakeUsage(1000, 200)).WithEventDelay(TimeSpan.FromMilliseconds(100)));
        using var chat = Pipeline();
        using var cancel = new CancellationTokenSource();

        var received = new System.Text.StringBuilder();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in chat.GetStreamingResponseAsync(Prompt, new ChatOptions { MaxOutputTokens = 300 }, cancel.Token))
            {
                received.Append(update.Text);
                if (update.Text.Length > 0)
                {
                    await cancel.CancelAsync(); // the caller gives up after the first text
                }
            }
        });

        Assert.Single(Server.ServedMessages); // one upstream call …
        var record = Assert.Single(await CommittedRecordsAsync()); // … one row
        Assert.True(record.Streaming);
        Assert.Equal((LedgerStatus.Failed, "cancelled", true, true), (record.Status, record.ErrorType, record.UsageEstimated, record.ClientDisconnected));
        Assert.Equal(1000, record.Usage.InputTokens); // message_start's input, exact
        // At least one token per 3 bytes of the text received (UsageEstimate.StreamOutputTokens), never the final 200.
        var bytes = System.Text.Encoding.UTF8.GetByteCount(received.ToString());
        Assert.InRange(record.Usage.OutputTokens, (bytes + 2) / 3, 199);
        // Haiku 4.5: 1000 × $1/M = $0.001 for the input, plus $5/M per output token.
        Assert.Equal(0.001m + (record.Usage.OutputTokens * 5m / 1_000_000m), record.Cost!.Value.Total);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the condition was never met");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task A_call_cancelled_before_it_was_sent_is_recorded_without_a_charge()
    {
        using var chat = Pipeline();
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => chat.GetResponseAsync(Prompt, cancellationToken: cancel.Token));

        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal(("cancelled", false, 0m), (record.ErrorType, record.UsageEstimated, record.Cost!.Value.Total));
        Assert.Equal(0, Server.MessageCount);
    }

    [Fact]
    public async Task A_429_is_recorded_as_an_error_attempt_and_the_exception_reaches_the_caller()
    {
        Server.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(2)));
        using var chat = Pipeline();

        var thrown = await Assert.ThrowsAsync<AnthropicRateLimitException>(() => chat.GetResponseAsync(Prompt, new ChatOptions().WithTaskLabel("triage")));

        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal(LedgerStatus.Error, record.Status);
        Assert.Equal("rate_limit_error", record.ErrorType);
        Assert.Equal(429, record.HttpStatus);
        Assert.Equal(thrown.RequestID, record.UpstreamRequestId);
        Assert.StartsWith("req_", record.UpstreamRequestId, StringComparison.Ordinal);
        Assert.Equal(default, record.Usage);
        Assert.Equal(CostBreakdown.Zero, record.Cost);
        Assert.Equal("triage", record.TaskLabel);
    }

    public static TheoryData<int, string, Type> ApiErrors => new()
    {
        { 400, "invalid_request_error", typeof(AnthropicBadRequestException) },
        { 401, "authentication_error", typeof(AnthropicUnauthorizedException) },
        { 500, "api_error", typeof(Anthropic5xxException) },
        { 529, "overloaded_error", typeof(AnthropicOverloadedException) },
    };

    [Theory]
    [MemberData(nameof(ApiErrors))]
    public async Task API_errors_are_recorded_with_their_type_and_status(int status, string errorType, Type exceptionType)
    {
        Server.Enqueue(FakeReply.Error(status, errorType, "scripted"));
        using var chat = Pipeline();

        var thrown = await Assert.ThrowsAnyAsync<AnthropicApiException>(() => chat.GetResponseAsync(Prompt));

        Assert.IsType(exceptionType, thrown);
        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal((LedgerStatus.Error, errorType, status), (record.Status, record.ErrorType, record.HttpStatus));
    }

    [Fact]
    public async Task An_error_event_mid_stream_is_recorded_with_the_usage_so_far_and_rethrown()
    {
        Server.Enqueue(FakeReply.Stream("streaming/error-midstream.sse"));
        using var chat = Pipeline();

        var seen = 0;
        await Assert.ThrowsAsync<AnthropicSseException>(async () =>
        {
            await foreach (var update in chat.GetStreamingResponseAsync("Write a haiku about cost."))
            {
                seen++;
            }
        });

        Assert.True(seen > 0);
        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal((LedgerStatus.Error, "overloaded_error", 200), (record.Status, record.ErrorType, record.HttpStatus));
        Assert.Equal(16, record.Usage.InputTokens);
        // No final usage arrived: the output is estimated from the two deltas received, "Pennies" (7 bytes) and
        // " per thousand" (13): 20 bytes → ⌈20 / 3⌉ = 7 tokens (UsageEstimate), not message_start's placeholder 1.
        Assert.Equal((7L, true, false), (record.Usage.OutputTokens, record.UsageEstimated, record.ClientDisconnected));
        Assert.Equal(16 * 1m / 1_000_000 + 7 * 5m / 1_000_000, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task A_stream_cut_by_the_network_is_recorded_as_stream_cut()
    {
        Server.Enqueue(FakeReply.Stream().WithCutAfterEvents(3));
        using var chat = Pipeline();

        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            await foreach (var update in chat.GetStreamingResponseAsync("Write a haiku about cost."))
            {
            }
        });

        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal((LedgerStatus.Error, "stream_cut"), (record.Status, record.ErrorType));
        Assert.Equal(16, record.Usage.InputTokens);
    }

    [Fact]
    public async Task A_dropped_connection_is_recorded_as_failed_with_no_cost()
    {
        Server.Enqueue(FakeReply.Default.WithDropConnection());
        using var chat = Pipeline();

        await Assert.ThrowsAsync<AnthropicIOException>(() => chat.GetResponseAsync(Prompt));

        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal((LedgerStatus.Failed, "upstream_unreachable", 0), (record.Status, record.ErrorType, record.HttpStatus));
        Assert.Equal(CostBreakdown.Zero, record.Cost);
    }

    [Fact]
    public async Task A_retry_with_the_same_request_id_shows_both_attempts_and_who_paid()
    {
        Server.Enqueue(FakeReply.Overloaded());
        Server.Enqueue(FakeReply.Message("messages/response-cache-read.json"));
        using var chat = Pipeline("claude-sonnet-4-5");

        // What a fallback stage above the ledger does: one logical request id, a new attempt number per call.
        var requestId = LedgerIds.New(TimeProvider.System);
        ChatResponse? response = null;
        for (var attempt = 1; response is null; attempt++)
        {
            try
            {
                response = await chat.GetResponseAsync(Prompt, new ChatOptions().WithRequestId(requestId).WithAttempt(attempt));
            }
            catch (AnthropicOverloadedException) when (attempt < 3)
            {
            }
        }

        await Ledger.FlushAsync();
        var totals = await Ledger.GetTotalsAsync(new LedgerQuery { RequestId = requestId });
        var records = await CommittedRecordsAsync();
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.Equal(requestId, r.RequestId));
        Assert.Equal([1, 2], records.Select(r => r.Attempt).Order());
        var failed = records.Single(r => r.Attempt == 1);
        var paid = records.Single(r => r.Attempt == 2);
        Assert.Equal("overloaded_error", failed.ErrorType);
        Assert.Equal(0m, failed.Cost!.Value.Total);
        Assert.Equal(LedgerStatus.Ok, paid.Status);
        Assert.Equal(0.000087m + 0.001305m + 5562 * 0.30m / 1_000_000, paid.Cost!.Value.Total); // Sonnet 4.5, as in the stream test above
        Assert.Equal(2, totals.Count);
        Assert.Equal(paid.Cost.Value.Total, totals.TotalCost);
    }

    [Fact]
    public async Task Calls_without_a_request_id_each_get_their_own()
    {
        Server.Enqueue(FakeReply.Message());
        Server.Enqueue(FakeReply.Message());
        using var chat = Pipeline();

        await chat.GetResponseAsync("one");
        await chat.GetResponseAsync("two");

        var records = await CommittedRecordsAsync();
        Assert.Equal(2, records.Select(r => r.RequestId).Distinct().Count());
        Assert.Equal(2, records.Select(r => r.Id).Distinct().Count());
    }
}
