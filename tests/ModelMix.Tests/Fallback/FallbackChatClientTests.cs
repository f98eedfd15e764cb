using System.Net;
using System.Runtime.CompilerServices;
using Anthropic.Exceptions;
using Microsoft.Extensions.AI;
using ModelMix.Pipeline;
using ModelMix.Testing;

namespace ModelMix.Tests.Pipeline;

public sealed class FallbackChatClientTests
{
    private readonly FallbackTestTime _time = new();
    private readonly OutcomeClient _inner = new();

    private FallbackChatClient Client(Action<FallbackOptions>? configure = null)
    {
        var options = new FallbackOptions { TimeProvider = _time, Randomizer = () => 0.5 };
        configure?.Invoke(options);
        return new FallbackChatClient(_inner, options);
    }

    private static HttpRequestException Http(HttpStatusCode status) => new($"{(int)status}", null, status);

    private static AnthropicRateLimitException RateLimited() =>
        new(Http(HttpStatusCode.TooManyRequests)) { StatusCode = HttpStatusCode.TooManyRequests, ResponseBody = "{}" };

    private static Anthropic5xxException Overloaded() =>
        new(Http((HttpStatusCode)529)) { StatusCode = (HttpStatusCode)529, ResponseBody = "{}" };

    private static AnthropicApiException ClientError(HttpStatusCode status) => status switch
    {
        HttpStatusCode.BadRequest => new AnthropicBadRequestException(Http(status)) { StatusCode = status, ResponseBody = "{}" },
        HttpStatusCode.Unauthorized => new AnthropicUnauthorizedException(Http(status)) { StatusCode = status, ResponseBody = "{}" },
        HttpStatusCode.Forbidden => new AnthropicForbiddenException(Http(status)) { StatusCode = status, ResponseBody = "{}" },
        HttpStatusCode.NotFound => new AnthropicNotFoundException(Http(status)) { StatusCode = status, ResponseBody = "{}" },
        _ => new AnthropicContentTooLargeException(Http(status)) { StatusCode = status, ResponseBody = "{}" },
    };

    [Fact]
    public async Task A_transient_failure_is_retried_on_the_same_model_with_backoff_and_numbered_attempts()
    {
        _inner.Outcomes.Enqueue(Overloaded());
        _inner.Outcomes.Enqueue(Overloaded());
        using var client = Client();

        var response = await client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-opus-4-5" }.WithRequestId("r-1"));

        Assert.Equal("ok", response.Text);
        Assert.Equal([1, 2, 3], _inner.Calls.Select(o => o.GetAttempt()));
        Assert.All(_inner.Calls, o => Assert.Equal("claude-opus-4-5", o.ModelId));
        Assert.All(_inner.Calls, o => Assert.Equal("r-1", o.GetRequestId()));
        Assert.All(_inner.Calls, o => Assert.Null(o.GetEscalatedFrom()));
        Assert.Equal(2, _time.Delays.Count);
        Assert.True(_time.Delays[1] > _time.Delays[0], "exponential backoff grows");
        Assert.All(_time.Delays, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromSeconds(8)));
    }

    [Fact]
    public async Task A_routing_call_keeps_attempt_zero_through_its_retries_and_fallbacks()
    {
        for (var i = 0; i < 2; i++)
        {
            _inner.Outcomes.Enqueue(Overloaded());
        }

        using var client = Client(o =>
        {
            // Sonnet 4.6, not 4.5: claude-sonnet-4-5 is retired since 2026-11-30 and a chain passes over a retired model (ModelFit).
            o.Chain = ["claude-haiku-4-5", "claude-sonnet-4-6"];
            o.MaxRetriesPerModel = 1;
        });

        await client.GetResponseAsync("classify", new ChatOptions { ModelId = "claude-haiku-4-5" }.WithRequestId("r-9").WithAttempt(0));

        Assert.Equal(["claude-haiku-4-5", "claude-haiku-4-5", "claude-sonnet-4-6"], _inner.Calls.Select(o => o.ModelId));
        Assert.Equal([0, 0, 0], _inner.Calls.Select(o => o.GetAttempt()));
        Assert.All(_inner.Calls, o => Assert.Equal("r-9", o.GetRequestId()));
    }

    [Fact]
    public async Task When_retries_are_spent_the_call_falls_back_along_the_chain_and_says_where_it_came_from()
    {
        for (var i = 0; i < 2; i++)
        {
            _inner.Outcomes.Enqueue(Overloaded());
        }

        using var client = Client(o =>
        {
            // Sonnet 4.6, not 4.5: claude-sonnet-4-5 is retired since 2026-11-30 and a chain passes over a retired model (ModelFit).
            o.Chain = ["claude-opus-4-5", "claude-sonnet-4-6", "haiku"];
            o.MaxRetriesPerModel = 1;
        });

        await client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-opus-4-5" });

        Assert.Equal(["claude-opus-4-5", "claude-opus-4-5", "claude-sonnet-4-6"], _inner.Calls.Select(o => o.ModelId));
        Assert.Equal([null, null, "claude-opus-4-5"], _inner.Calls.Select(o => o.GetEscalatedFrom()));
        Assert.Equal([1, 2, 3], _inner.Calls.Select(o => o.GetAttempt()));
        Assert.Single(_inner.Calls.Select(o => o.GetRequestId()).Distinct());
    }

    [Fact]
    public async Task Tiers_in_the_chain_resolve_and_a_model_outside_the_chain_falls_back_to_its_first_entry()
    {
        _inner.Outcomes.Enqueue(Overloaded());
        using var client = Client(o =>
        {
            o.Chain = ["sonnet", "haiku"];
            o.MaxRetriesPerModel = 0;
        });

        await client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-opus-4-1" });

        Assert.Equal(["claude-opus-4-1", "claude-sonnet-5-5"], _inner.Calls.Select(o => o.ModelId)); // "sonnet" → the default catalog's sonnet tier
    }

    [Fact]
    public async Task When_the_chain_is_spent_the_last_failure_reaches_the_caller()
    {
        for (var i = 0; i < 4; i++)
        {
            _inner.Outcomes.Enqueue(Overloaded());
        }

        using var client = Client(o =>
        {
            o.Chain = ["claude-sonnet-4-5", "claude-haiku-4-5"];
            o.MaxRetriesPerModel = 1;
        });

        await Assert.ThrowsAsync<Anthropic5xxException>(() => client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-sonnet-4-5" }));
        Assert.Equal(4, _inner.Calls.Count);
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest)]
    [InlineData(HttpStatusCode.Unauthorized)]
    [InlineData(HttpStatusCode.Forbidden)]
    [InlineData(HttpStatusCode.NotFound)]
    [InlineData(HttpStatusCode.RequestEntityTooLarge)]
    public async Task A_4xx_that_cannot_succeed_is_neither_retried_nor_sent_elsewhere(HttpStatusCode status)
    {
        var error = ClientError(status);
        _inner.Outcomes.Enqueue(error);
        using var client = Client(o => o.Chain = ["opus", "sonnet"]);

        var thrown = await Assert.ThrowsAnyAsync<AnthropicApiException>(() => client.GetResponseAsync("hi", new ChatOptions { ModelId = "opus" }));

        Assert.Same(error, thrown);
        Assert.Single(_inner.Calls);
        Assert.Empty(_time.Delays);
    }

    [Fact]
    public async Task A_prompt_too_long_goes_to_the_long_context_model_without_a_retry()
    {
        var tooLong = new AnthropicBadRequestException(Http(HttpStatusCode.BadRequest))
        {
            StatusCode = HttpStatusCode.BadRequest,
            ResponseBody = """{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 215000 tokens > 200000 maximum"}}""",
        };
        _inner.Outcomes.Enqueue(tooLong);
        using var client = Client(o => o.LongContextModel = "claude-sonnet-4-6");

        await client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-haiku-4-5" });

        Assert.Equal(["claude-haiku-4-5", "claude-sonnet-4-6"], _inner.Calls.Select(o => o.ModelId));
        Assert.Equal("claude-haiku-4-5", _inner.Calls[1].GetEscalatedFrom());
        Assert.Empty(_time.Delays);
    }

    [Fact]
    public async Task A_prompt_too_long_without_a_long_context_model_is_the_callers_error()
    {
        _inner.Outcomes.Enqueue(new AnthropicBadRequestException(Http(HttpStatusCode.BadRequest))
        {
            StatusCode = HttpStatusCode.BadRequest,
            ResponseBody = """{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 215000 tokens > 200000 maximum"}}""",
        });
        using var client = Client(o => o.Chain = ["opus", "sonnet"]);

        await Assert.ThrowsAsync<AnthropicBadRequestException>(() => client.GetResponseAsync("hi", new ChatOptions { ModelId = "opus" }));
        Assert.Single(_inner.Calls);
    }

    [Fact]
    public async Task A_rate_limit_waits_the_retry_after_the_handler_saw()
    {
        _inner.RetryAfterOnFailure = TimeSpan.FromSeconds(3);
        _inner.Outcomes.Enqueue(RateLimited());
        using var client = Client();

        await client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-haiku-4-5" });

        Assert.Equal([TimeSpan.FromSeconds(3)], _time.Delays);
        Assert.Equal(2, _inner.Calls.Count);
    }

    [Fact]
    public async Task A_retry_after_longer_than_the_limit_falls_back_at_once()
    {
        _inner.RetryAfterOnFailure = TimeSpan.FromMinutes(5);
        _inner.Outcomes.Enqueue(RateLimited());
        using var client = Client(o => o.Chain = ["claude-sonnet-4-5", "claude-haiku-4-5"]);

        await client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-sonnet-4-5" });

        Assert.Empty(_time.Delays);
        Assert.Equal(["claude-sonnet-4-5", "claude-haiku-4-5"], _inner.Calls.Select(o => o.ModelId));
    }

    [Fact]
    public async Task A_caller_cancellation_is_never_retried()
    {
        using var cts = new CancellationTokenSource();
        _inner.Outcomes.Enqueue(new OperationCanceledException(cts.Token));
        _inner.OnCall = cts.Cancel;
        using var client = Client(o => o.Chain = ["opus", "sonnet"]);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetResponseAsync("hi", new ChatOptions { ModelId = "opus" }, cts.Token));
        Assert.Single(_inner.Calls);
    }

    [Fact]
    public async Task A_timeout_that_is_not_the_callers_is_retried()
    {
        _inner.Outcomes.Enqueue(new TaskCanceledException("HttpClient.Timeout", new TimeoutException()));
        using var client = Client();

        await client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-haiku-4-5" });

        Assert.Equal(2, _inner.Calls.Count);
    }

    [Fact]
    public async Task A_stream_that_fails_before_output_is_retried_but_one_cut_after_output_is_not()
    {
        _inner.Outcomes.Enqueue(Overloaded());
        _inner.StreamCutAfterFirstUpdate = true;
        using var client = Client(o => o.Chain = ["opus", "sonnet"]);

        var seen = new List<string>();
        await Assert.ThrowsAsync<IOException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync("hi", new ChatOptions { ModelId = "opus" }))
            {
                seen.Add(update.Text);
            }
        });

        Assert.Equal(["first"], seen);
        Assert.Equal(2, _inner.Calls.Count);
        Assert.Equal([1, 2], _inner.Calls.Select(o => o.GetAttempt()));
    }

    [Fact]
    public async Task Without_options_the_inner_default_model_is_used_and_attempts_are_still_numbered()
    {
        _inner.Outcomes.Enqueue(Overloaded());
        using var client = Client();

        await client.GetResponseAsync("hi");

        Assert.Equal(["claude-haiku-4-5", "claude-haiku-4-5"], _inner.Calls.Select(o => o.ModelId));
        Assert.Equal([1, 2], _inner.Calls.Select(o => o.GetAttempt()));
        Assert.NotNull(_inner.Calls[0].GetRequestId());
        Assert.Equal(_inner.Calls[0].GetRequestId(), _inner.Calls[1].GetRequestId());
    }

    [Fact]
    public void An_unknown_chain_entry_fails_at_build_with_its_position()
    {
        var error = Assert.Throws<ArgumentException>(() => Client(o => o.Chain = ["opus", "claude-nonsense-9"]));
        Assert.Contains("Chain:1", error.Message, StringComparison.Ordinal);
        Assert.Contains("claude-nonsense-9", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_retry_after_handler_reads_milliseconds_seconds_and_dates()
    {
        var now = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
        using var ms = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        ms.Headers.TryAddWithoutValidation("retry-after-ms", "1500");
        ms.Headers.TryAddWithoutValidation("retry-after", "9");
        using var seconds = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        seconds.Headers.TryAddWithoutValidation("retry-after", "7");
        using var date = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        date.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(now.AddSeconds(20));
        using var none = new HttpResponseMessage(HttpStatusCode.TooManyRequests);

        Assert.True(FallbackRetryAfterHandler.TryGetRetryAfter(ms, now, out var a));
        Assert.True(FallbackRetryAfterHandler.TryGetRetryAfter(seconds, now, out var b));
        Assert.True(FallbackRetryAfterHandler.TryGetRetryAfter(date, now, out var c));
        Assert.False(FallbackRetryAfterHandler.TryGetRetryAfter(none, now, out _));
        Assert.Equal(TimeSpan.FromMilliseconds(1500), a);
        Assert.Equal(TimeSpan.FromSeconds(7), b);
        Assert.Equal(TimeSpan.FromSeconds(20), c);
    }

    /// <summary>
    /// An inner client that fails with queued exceptions, then answers "ok"; it copies every call's options and can
    /// play the retry-after handler's part.
    /// </summary>
    private sealed class OutcomeClient : IChatClient
    {
        public Queue<Exception> Outcomes { get; } = new();

        public List<ChatOptions> Calls { get; } = [];

        public TimeSpan? RetryAfterOnFailure { get; set; }

        public bool StreamCutAfterFirstUpdate { get; set; }

        public Action? OnCall { get; set; }

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Calls.Add(options!.Clone());
            OnCall?.Invoke();
            return Outcomes.TryDequeue(out var failure)
                ? Task.FromException<ChatResponse>(Fail(failure))
                : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));
        }

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages,
            ChatOptions? options = null,
            [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            Calls.Add(options!.Clone());
            await Task.Yield();
            if (Outcomes.TryDequeue(out var failure))
            {
                throw Fail(failure);
            }

            yield return new ChatResponseUpdate(ChatRole.Assistant, "first");
            if (StreamCutAfterFirstUpdate)
            {
                throw new IOException("connection reset");
            }
        }

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("outcomes", defaultModelId: "claude-haiku-4-5") : null;

        public void Dispose()
        {
        }

        private Exception Fail(Exception failure)
        {
            if (RetryAfterOnFailure is { } wait && FallbackRetryAfterHandler.Current is { } slot)
            {
                slot.RetryAfter = wait;
            }

            return failure;
        }
    }
}
