using System.Net;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Pipeline;
using ModelMix.Routing;

namespace ModelMix.Tests.Pipeline;

/// <summary>
/// Written from the survivors of the fallback area's mutation run (docs/testing.md): the stage's option checks, the
/// chain's problem messages, an empty long-context setting, a budget-held fallback to a model priced the same, the
/// retry-after handler on its own clock, and the stage's service lookup and disposal.
/// </summary>
public sealed class FallbackEdgeTests
{
    private static readonly RoutingRequest AnyRequest = default;

    [Theory]
    [InlineData("MaxRetriesPerModel")]
    [InlineData("BaseDelay")]
    [InlineData("MaxDelay")]
    [InlineData("MaxRetryAfter")]
    public void Each_bad_option_is_refused_naming_it(string option)
    {
        var options = new FallbackOptions();
        switch (option)
        {
            case "MaxRetriesPerModel": options.MaxRetriesPerModel = -1; break;
            case "BaseDelay": options.BaseDelay = TimeSpan.FromTicks(-1); break;
            case "MaxDelay": options.BaseDelay = TimeSpan.FromSeconds(2); options.MaxDelay = TimeSpan.FromSeconds(1); break;
            default: options.MaxRetryAfter = TimeSpan.FromTicks(-1); break;
        }

        using var inner = new InnerClient();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new FallbackChatClient(inner, options));
        Assert.Equal($"options.{option}", error.ParamName);
    }

    [Fact]
    public void Every_bad_chain_entry_is_in_the_message_each_as_its_own_sentence()
    {
        using var inner = new InnerClient();
        var error = Assert.Throws<ArgumentException>(() => new FallbackChatClient(inner, new FallbackOptions { Chain = ["gpt-9", "gpt-10"], PriceBook = TestPrices.Tiers4x }));

        // The tiers are listed, comma-separated, and the two problems are joined by one space.
        Assert.Equal(
            "'ModelMix:Fallback:Chain:0' is 'gpt-9', neither a tier (haiku, sonnet, opus, fable) nor a model in the price book tests: 4.x tiers. "
            + "'ModelMix:Fallback:Chain:1' is 'gpt-10', neither a tier (haiku, sonnet, opus, fable) nor a model in the price book tests: 4.x tiers. (Parameter 'options')",
            error.Message);
    }

    [Fact]
    public void No_chain_and_an_empty_long_context_model_are_no_problem()
    {
        var chain = FallbackChain.Create(null, "", TestPrices.Tiers4x, null, "ModelMix:Fallback", out var problems);

        Assert.Empty(problems);
        Assert.Empty(chain.Entries);
        Assert.Null(chain.LongContext);
    }

    [Fact]
    public void With_a_budget_held_a_model_priced_the_same_is_taken()
    {
        // Sonnet 4.5 and Sonnet 4.6 are both $3 input / $15 output per MTok: no dearer, so a hold for Sonnet 4.5
        // still covers Sonnet 4.6's worst case (a strict "cheaper" test would pass it over).
        var chain = FallbackChain.Create(["sonnet"], null, TestPrices.Tiers4x, null, "ModelMix:Fallback", out _);
        var tried = new HashSet<string>(StringComparer.Ordinal) { "claude-sonnet-4-5-20250929" };

        var next = chain.Next("claude-sonnet-4-5", tried, AnyRequest, noDearerThan: "claude-sonnet-4-5", at: new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero));

        Assert.Equal("claude-sonnet-4-6", next?.Model);
    }

    [Fact]
    public async Task The_handler_measures_an_http_date_on_its_own_clock()
    {
        // The handler's clock is years ahead of the real one: a wait measured on the system clock would be years long.
        var now = new DateTimeOffset(2031, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using var handler = new FallbackRetryAfterHandler(new FakeTimeProvider(now)) { InnerHandler = new Answer(now.AddSeconds(5)) };
        using var invoker = new HttpMessageInvoker(handler);
        var slot = new FallbackRetryAfterHandler.Slot();
        FallbackRetryAfterHandler.Current = slot;
        try
        {
            using var response = await invoker.SendAsync(new HttpRequestMessage(HttpMethod.Post, "http://localhost/v1/messages"), CancellationToken.None);

            Assert.Equal(TimeSpan.FromSeconds(5), slot.RetryAfter);
        }
        finally
        {
            FallbackRetryAfterHandler.Current = null;
        }
    }

    [Fact]
    public void The_stage_answers_for_itself_first_and_disposes_its_inner_client()
    {
        var inner = new InnerClient();
        var stage = new FallbackChatClient(inner);

        Assert.Same(stage, stage.GetService(typeof(IChatClient))); // the inner client would answer with itself
        Assert.Same(inner.Metadata, stage.GetService(typeof(ChatClientMetadata)));

        stage.Dispose();
        Assert.True(inner.Disposed);
    }

    private sealed class Answer(DateTimeOffset retryAt) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
            response.Headers.TryAddWithoutValidation("retry-after", retryAt.ToString("R"));
            return Task.FromResult(response);
        }
    }

    private sealed class InnerClient : IChatClient
    {
        public ChatClientMetadata Metadata { get; } = new("test", null, "claude-haiku-4-5");

        public bool Disposed { get; private set; }

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(ChatClientMetadata) ? Metadata : serviceType.IsInstanceOfType(this) ? this : null;

        public void Dispose() => Disposed = true;
    }
}
