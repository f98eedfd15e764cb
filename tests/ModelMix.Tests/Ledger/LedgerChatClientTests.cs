using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Tests.Ledger;

namespace ModelMix.Tests.Pipeline;

public sealed class LedgerChatClientTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _time = new(Start);
    private readonly RecordingLedger _ledger = new();
    private readonly ScriptedChatClient _inner = new();
    private readonly ListLogger<LedgerChatClient> _log = new();

    private LedgerChatClient Client(Action<LedgerChatClientOptions>? configure = null)
    {
        var options = new LedgerChatClientOptions { TimeProvider = _time };
        configure?.Invoke(options);
        return new LedgerChatClient(_inner, new AttemptRecorder(PriceBook.Default, _ledger), options, _log);
    }

    private static ChatResponse Answer(string? model, UsageDetails? usage) =>
        new(new ChatMessage(ChatRole.Assistant, "ok")) { ModelId = model, Usage = usage };

    /// <summary>UsageDetails as AsIChatClient reports response-cache-read-partial.json.</summary>
    private static UsageDetails PartialCacheRead() => new()
    {
        InputTokenCount = 5591,
        OutputTokenCount = 87,
        TotalTokenCount = 5678,
        CachedInputTokenCount = 2412,
        AdditionalCounts = new() { ["CacheCreationInputTokens"] = 3150 },
    };

    [Fact]
    public async Task Without_the_SDK_message_usage_comes_from_UsageDetails_with_cached_tokens_taken_out_of_input()
    {
        _inner.Respond = (_, _) => Task.FromResult(Answer("claude-sonnet-4-5-20250929", PartialCacheRead()));
        using var client = Client();

        await client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-sonnet-4-5" });

        var record = Assert.Single(_ledger.Records);
        // No TTL split in UsageDetails: every cache write is priced as a 5-minute write. Sonnet 4.5 per MTok: 29 × $3 =
        // 0.000087; 87 × $15 = 0.001305; 3150 × $3.75 = 0.0118125; reads 2412 × $0.30.
        Assert.Equal(new TokenUsage(29, 87, CacheWrite5mTokens: 3150, CacheReadTokens: 2412), record.Usage);
        Assert.Equal(0.000087m + 0.001305m + 0.0118125m + 2412 * 0.30m / 1_000_000, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task Server_tool_uses_in_UsageDetails_are_recorded_and_priced()
    {
        // The Anthropic SDK's AsIChatClient puts usage.server_tool_use in AdditionalCounts under these names.
        _inner.Respond = (_, _) => Task.FromResult(Answer("claude-haiku-4-5-20251001", new UsageDetails
        {
            InputTokenCount = 1000,
            OutputTokenCount = 500,
            AdditionalCounts = new() { ["WebSearchRequests"] = 1000, ["WebFetchRequests"] = 3 },
        }));
        using var client = Client();

        await client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-haiku-4-5" });

        var record = Assert.Single(_ledger.Records);
        Assert.Equal(new TokenUsage(1000, 500, WebSearchRequests: 1000, WebFetchRequests: 3), record.Usage);
        // Haiku 4.5: 1000*1 + 500*5 = 3500 /1e6 = 0.0035; 1000 searches * $0.01 = 10; 3 fetches * $0 = 0.
        Assert.Equal(10.0035m, record.Cost!.Value.Total);
        Assert.Equal(10m, record.Cost!.Value.ServerTools);
    }

    [Fact]
    public void UsageDetails_without_cache_counts_are_all_uncached_input_and_never_negative()
    {
        Assert.Equal(new TokenUsage(100, 7), ChatUsage.FromUsageDetails(new UsageDetails { InputTokenCount = 100, OutputTokenCount = 7 }));
        Assert.Equal(new TokenUsage(0, 0, CacheReadTokens: 50), ChatUsage.FromUsageDetails(new UsageDetails { InputTokenCount = 10, CachedInputTokenCount = 50 }));
        Assert.Equal(default, ChatUsage.FromUsageDetails(new UsageDetails()));
    }

    [Fact]
    public async Task What_a_routing_stage_puts_in_the_options_reaches_the_record()
    {
        _inner.Respond = (_, _) => Task.FromResult(Answer("claude-opus-4-5-20251101", new UsageDetails { InputTokenCount = 10, OutputTokenCount = 2 }));
        using var client = Client();
        var options = new ChatOptions { ModelId = "claude-opus-4-5" }
            .WithRequestedModel("auto")
            .WithRouting("cascade", "the verifier rejected Haiku's answer")
            .WithEscalatedFrom("claude-haiku-4-5")
            .WithRequestId("req-logical-1")
            .WithAttempt(2)
            .WithTaskLabel("extraction")
            .WithSessionId("s-9")
            .WithKeyId("k-3");

        await client.GetResponseAsync("hi", options);

        var record = Assert.Single(_ledger.Records);
        Assert.Same(options, _inner.LastOptions);
        Assert.Equal("auto", record.RequestedModel);
        Assert.Equal("claude-opus-4-5", record.RoutedModel);
        Assert.Equal("claude-opus-4-5-20251101", record.ResponseModel);
        Assert.Equal("cascade", record.Policy);
        Assert.Equal("the verifier rejected Haiku's answer", record.Reason);
        Assert.Equal("claude-haiku-4-5", record.EscalatedFrom);
        Assert.Equal("req-logical-1", record.RequestId);
        Assert.Equal(2, record.Attempt);
        Assert.Equal(("extraction", "s-9", "k-3"), (record.TaskLabel, record.SessionId, record.KeyId));
    }

    [Fact]
    public async Task The_record_is_stamped_with_the_start_time_and_the_latency_of_the_call()
    {
        _inner.Respond = (_, _) =>
        {
            _time.Advance(TimeSpan.FromMilliseconds(1500));
            return Task.FromResult(Answer("claude-haiku-4-5-20251001", new UsageDetails { InputTokenCount = 10, OutputTokenCount = 2 }));
        };
        using var client = Client();

        await client.GetResponseAsync("hi");

        var record = Assert.Single(_ledger.Records);
        Assert.Equal(Start, record.Timestamp);
        Assert.Equal(1500, record.LatencyMs);
        Assert.Equal("gpt-test", record.RoutedModel); // the inner client's default model, from its metadata
    }

    [Fact]
    public async Task A_model_without_a_price_is_recorded_as_unpriced_never_as_zero()
    {
        _inner.Respond = (_, _) => Task.FromResult(Answer("gpt-test-2026", new UsageDetails { InputTokenCount = 10, OutputTokenCount = 2 }));
        using var client = Client();

        await client.GetResponseAsync("hi");

        var record = Assert.Single(_ledger.Records);
        Assert.Equal(LedgerStatus.Unpriced, record.Status);
        Assert.Null(record.Cost);
        Assert.Contains(_log.Entries, e => e.Event.Id == 5002);
    }

    [Fact]
    public async Task No_model_anywhere_is_recorded_under_the_unknown_model_name()
    {
        var inner = new ScriptedChatClient(defaultModel: null);
        using var client = new LedgerChatClient(inner, new AttemptRecorder(PriceBook.Default, _ledger), new LedgerChatClientOptions { UnknownModel = "(none)" });

        await client.GetResponseAsync("hi");

        Assert.Equal("(none)", Assert.Single(_ledger.Records).RoutedModel);
    }

    public static TheoryData<Exception, LedgerStatus, string> Failures => new()
    {
        { new TimeoutException(), LedgerStatus.Failed, "upstream_timeout" },
        { new TaskCanceledException("HttpClient.Timeout", new TimeoutException()), LedgerStatus.Failed, "upstream_timeout" },
        { new HttpRequestException("refused"), LedgerStatus.Failed, "upstream_unreachable" },
        { new IOException("reset"), LedgerStatus.Failed, "upstream_unreachable" },
        { new InvalidOperationException("bug"), LedgerStatus.Failed, "InvalidOperationException" },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task A_failed_call_is_recorded_with_zero_usage_and_the_same_exception_is_rethrown(Exception failure, LedgerStatus status, string errorType)
    {
        _inner.Respond = (_, _) => Task.FromException<ChatResponse>(failure);
        using var client = Client();

        var thrown = await Assert.ThrowsAnyAsync<Exception>(() => client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-haiku-4-5" }));

        Assert.Same(failure, thrown);
        var record = Assert.Single(_ledger.Records);
        Assert.Equal((status, errorType, 0), (record.Status, record.ErrorType, record.HttpStatus));
        Assert.Equal(default, record.Usage);
        Assert.Equal(CostBreakdown.Zero, record.Cost);
    }

    [Fact]
    public async Task A_call_the_caller_cancels_is_still_recorded()
    {
        using var cts = new CancellationTokenSource();
        _inner.Respond = (_, ct) =>
        {
            cts.Cancel();
            ct.ThrowIfCancellationRequested();
            return Task.FromResult(Answer(null, null));
        };
        using var client = Client();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetResponseAsync("hi", cancellationToken: cts.Token));

        var record = Assert.Single(_ledger.Records);
        Assert.Equal((LedgerStatus.Failed, "cancelled"), (record.Status, record.ErrorType));
    }

    [Fact]
    public async Task A_ledger_that_fails_does_not_fail_the_callers_request()
    {
        _ledger.FailWith = new ObjectDisposedException("ledger");
        _inner.Respond = (_, _) => Task.FromResult(Answer("claude-haiku-4-5-20251001", new UsageDetails { InputTokenCount = 10, OutputTokenCount = 2 }));
        using var client = Client();

        var response = await client.GetResponseAsync("hi");

        Assert.Equal("ok", response.Text);
        var entry = Assert.Single(_log.Entries, e => e.Event.Id == 5001);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.IsType<ObjectDisposedException>(entry.Exception);
    }

    private static ChatResponseUpdate Text(string text) => new(ChatRole.Assistant, text) { ModelId = "gpt-test-1" };

    private static ChatResponseUpdate Usage(long input, long output, long cached = 0) =>
        new() { Contents = [new UsageContent(new UsageDetails { InputTokenCount = input, OutputTokenCount = output, CachedInputTokenCount = cached })] };

    [Fact]
    public async Task A_stream_from_another_provider_sums_its_usage_contents()
    {
        _inner.Stream.AddRange([Text("a"), Text("b"), Usage(100, 5, cached: 60), Usage(0, 3)]);
        using var client = Client();

        var texts = new List<string>();
        await foreach (var update in client.GetStreamingResponseAsync("hi"))
        {
            texts.Add(update.Text);
        }

        Assert.Equal(["a", "b", "", "", ""], texts); // the last update carries only what ModelMix says about the answer
        var record = Assert.Single(_ledger.Records);
        Assert.True(record.Streaming);
        Assert.Equal(LedgerStatus.Unpriced, record.Status); // the stream completed; the model has no price
        Assert.Equal(new TokenUsage(40, 8, CacheReadTokens: 60), record.Usage);
        Assert.Equal("gpt-test-1", record.ResponseModel);
    }

    [Fact]
    public async Task Breaking_out_of_a_stream_records_it_as_abandoned_and_disposes_the_inner_stream()
    {
        _inner.Stream.AddRange([Text("a"), Text("b"), Usage(100, 5)]);
        using var client = Client();

        await foreach (var update in client.GetStreamingResponseAsync("hi"))
        {
            break;
        }

        Assert.True(_inner.StreamDisposed);
        var record = Assert.Single(_ledger.Records);
        Assert.Equal((LedgerStatus.Failed, "stream_abandoned"), (record.Status, record.ErrorType));
        // The usage content had not arrived: estimated from what was received, one delta "a" (1 byte) → 1 output token.
        Assert.Equal(new TokenUsage(0, 1), record.Usage);
        Assert.Equal((true, true), (record.UsageEstimated, record.ClientDisconnected));
    }

    [Fact]
    public async Task An_exception_in_the_consumers_loop_records_the_stream_as_abandoned_and_propagates()
    {
        _inner.Stream.AddRange([Text("a"), Text("b")]);
        using var client = Client();

        await Assert.ThrowsAsync<FormatException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync("hi"))
            {
                throw new FormatException("consumer bug");
            }
        });

        Assert.Equal("stream_abandoned", Assert.Single(_ledger.Records).ErrorType);
    }

    [Fact]
    public async Task A_stream_that_breaks_after_output_is_recorded_as_cut_and_rethrown()
    {
        _inner.Stream.AddRange([Text("a"), null]);
        using var client = Client();

        var received = 0;
        await Assert.ThrowsAsync<IOException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync("hi"))
            {
                received++;
            }
        });

        Assert.Equal(1, received);
        var record = Assert.Single(_ledger.Records);
        Assert.Equal((LedgerStatus.Error, "stream_cut", 200), (record.Status, record.ErrorType, record.HttpStatus));
    }

    [Fact]
    public async Task A_stream_that_fails_before_any_update_is_recorded_as_failed()
    {
        _inner.Stream.Add(null);
        _inner.StreamFault = new HttpRequestException("refused");
        using var client = Client();

        await Assert.ThrowsAsync<HttpRequestException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync("hi"))
            {
            }
        });

        var record = Assert.Single(_ledger.Records);
        Assert.Equal((LedgerStatus.Failed, "upstream_unreachable", 0), (record.Status, record.ErrorType, record.HttpStatus));
    }

    [Fact]
    public async Task A_stream_the_caller_cancels_is_recorded_as_cancelled()
    {
        _inner.Stream.AddRange([Text("a"), Text("b"), Text("c")]);
        using var client = Client();
        using var cts = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync("hi", cancellationToken: cts.Token))
            {
                cts.Cancel();
            }
        });

        var record = Assert.Single(_ledger.Records);
        Assert.Equal((LedgerStatus.Failed, "cancelled"), (record.Status, record.ErrorType));
    }

    [Fact]
    public async Task Each_stream_gets_exactly_one_record_and_its_latency_runs_to_the_last_update()
    {
        _inner.Stream.AddRange([Text("a"), Text("b")]);
        using var client = Client();

        await foreach (var update in client.GetStreamingResponseAsync("hi"))
        {
            _time.Advance(TimeSpan.FromMilliseconds(250));
        }

        var record = Assert.Single(_ledger.Records);
        Assert.Equal(500, record.LatencyMs);
        Assert.Equal(Start, record.Timestamp);
    }

    [Fact]
    public void The_recorder_is_reachable_through_GetService()
    {
        var recorder = new AttemptRecorder(PriceBook.Default, _ledger);
        using var client = new ChatClientBuilder(_inner).UseModelMixLedger(recorder).Build();

        Assert.Same(recorder, client.GetService<AttemptRecorder>());
        Assert.IsType<LedgerChatClient>(client.GetService<LedgerChatClient>());
        Assert.Equal("gpt-test", client.GetService<ChatClientMetadata>()!.DefaultModelId);
    }
}
