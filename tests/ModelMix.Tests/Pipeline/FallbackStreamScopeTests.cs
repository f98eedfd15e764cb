using System.Net;
using System.Runtime.CompilerServices;
using Anthropic.Exceptions;
using Microsoft.Extensions.AI;
using ModelMix.Pipeline;
using ModelMix.Testing;

namespace ModelMix.Tests.Pipeline;

/// <summary>
/// Written from the fallback area's mutation survivors (docs/testing.md): the streaming path's retry-after (the
/// stage's request state handed to the retry pipeline for a stream, as for a plain call), and attempts numbered on
/// the request scope a routing stage above already counted in.
/// </summary>
public sealed class FallbackStreamScopeTests
{
    private readonly FallbackTestTime _time = new();
    private readonly StreamClient _inner = new();

    private FallbackChatClient Client(Action<FallbackOptions>? configure = null)
    {
        var options = new FallbackOptions { TimeProvider = _time, Randomizer = () => 0.5 };
        configure?.Invoke(options);
        return new FallbackChatClient(_inner, options);
    }

    private static AnthropicRateLimitException RateLimited()
    {
        var http = new HttpRequestException("429", null, HttpStatusCode.TooManyRequests);
        return new(http) { StatusCode = HttpStatusCode.TooManyRequests, ResponseBody = "{}" };
    }

    private static Anthropic5xxException Overloaded()
    {
        var http = new HttpRequestException("529", null, (HttpStatusCode)529);
        return new(http) { StatusCode = (HttpStatusCode)529, ResponseBody = "{}" };
    }

    private static async Task<List<string>> ReadAsync(IChatClient client, ChatOptions options)
    {
        var seen = new List<string>();
        await foreach (var update in client.GetStreamingResponseAsync("hi", options))
        {
            seen.Add(update.Text);
        }

        return seen;
    }

    [Fact]
    public async Task A_stream_rate_limited_before_output_waits_exactly_the_retry_after()
    {
        // Without the request state in the stream's resilience context the delay generator finds no retry-after and the
        // back-off (not 3 s) is waited.
        _inner.RetryAfterOnFailure = TimeSpan.FromSeconds(3);
        _inner.Outcomes.Enqueue(RateLimited());
        using var client = Client();

        var seen = await ReadAsync(client, new ChatOptions { ModelId = "claude-haiku-4-5" });

        Assert.Equal(["first"], seen);
        Assert.Equal([TimeSpan.FromSeconds(3)], _time.Delays);
        Assert.Equal(2, _inner.Calls.Count);
    }

    [Fact]
    public async Task A_stream_rate_limited_for_longer_than_the_limit_falls_back_at_once()
    {
        // Without the request state the retry-after is not seen: the stage would retry the same model after a back-off.
        _inner.RetryAfterOnFailure = TimeSpan.FromMinutes(5);
        _inner.Outcomes.Enqueue(RateLimited());
        using var client = Client(o => o.Chain = ["claude-sonnet-4-5", "claude-haiku-4-5"]);

        var seen = await ReadAsync(client, new ChatOptions { ModelId = "claude-sonnet-4-5" });

        Assert.Equal(["first"], seen);
        Assert.Empty(_time.Delays);
        Assert.Equal(["claude-sonnet-4-5", "claude-haiku-4-5"], _inner.Calls.Select(o => o.ModelId));
        Assert.Equal([null, "claude-sonnet-4-5"], _inner.Calls.Select(o => o.GetEscalatedFrom()));
    }

    [Fact]
    public async Task Attempts_go_on_from_the_scope_a_stage_above_already_counted_in()
    {
        // A routing stage above made two attempts in this request's scope (a tool loop's earlier iterations): the
        // stage's retry is attempt 3 and its next 4, under the scope's request id, and the scope counts them.
        var scope = new RequestScope("r-scoped");
        scope.NextAttempt();
        scope.NextAttempt();
        var options = new ChatOptions { ModelId = "claude-haiku-4-5" };
        ModelMixChatOptions.SetScope(options, scope);
        _inner.Outcomes.Enqueue(Overloaded());
        using var client = Client();

        var response = await client.GetResponseAsync("hi", options);

        Assert.Equal("ok", response.Text);
        Assert.Equal([3, 4], _inner.Calls.Select(o => o.GetAttempt()));
        Assert.All(_inner.Calls, o => Assert.Equal("r-scoped", o.GetRequestId()));
        Assert.All(_inner.Calls, o => Assert.Same(scope, ModelMixChatOptions.ScopeOf(o)));
        Assert.Equal(4, scope.Attempts);
    }

    [Fact]
    public async Task An_explicit_attempt_number_is_counted_on_locally_not_from_the_scope()
    {
        // A cascade tier sends its call as attempt 5 in a scope that has counted 1: the retry is 6, and the scope's own
        // counter is left alone.
        var scope = new RequestScope("r-tier");
        scope.NextAttempt();
        var options = new ChatOptions { ModelId = "claude-haiku-4-5" }.WithAttempt(5);
        ModelMixChatOptions.SetScope(options, scope);
        _inner.Outcomes.Enqueue(Overloaded());
        using var client = Client();

        await client.GetResponseAsync("hi", options);

        Assert.Equal([5, 6], _inner.Calls.Select(o => o.GetAttempt()));
        Assert.Equal(1, scope.Attempts);
    }

    /// <summary>Fails with queued exceptions (playing the retry-after handler's part), then answers "ok" or streams "first".</summary>
    private sealed class StreamClient : IChatClient
    {
        public Queue<Exception> Outcomes { get; } = new();

        public List<ChatOptions> Calls { get; } = [];

        public TimeSpan? RetryAfterOnFailure { get; set; }

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Calls.Add(options!.Clone());
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
        }

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("stream", defaultModelId: "claude-haiku-4-5") : null;

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
