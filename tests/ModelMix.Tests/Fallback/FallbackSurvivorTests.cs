using System.Net;
using System.Runtime.CompilerServices;
using Anthropic.Exceptions;
using Microsoft.Extensions.AI;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Testing;

namespace ModelMix.Tests.Pipeline;

/// <summary>
/// Written from the fallback area's fourth mutation run (docs/testing.md, "Left, worth a test"): the caller's options
/// reaching the inner client, a request id given without a scope, the models tried never asked twice (the first one
/// and each fallback), the options' randomizer, a blank chain name, and a stream with no update or several.
/// </summary>
public sealed class FallbackSurvivorTests
{
    private readonly FallbackTestTime _time = new();

    private static Anthropic5xxException Overloaded() =>
        new(new HttpRequestException("529", null, (HttpStatusCode)529)) { StatusCode = (HttpStatusCode)529, ResponseBody = "{}" };

    [Fact]
    public async Task The_callers_options_reach_the_inner_client_on_every_attempt()
    {
        var inner = new ScriptedClient { Failures = 1 };
        using var client = new FallbackChatClient(inner, new FallbackOptions { TimeProvider = _time, Randomizer = () => 0.5 });
        var tool = AIFunctionFactory.Create(() => "sunny", "weather");
        var options = new ChatOptions { ModelId = "claude-haiku-4-5", Temperature = 0.25f, MaxOutputTokens = 321, StopSequences = ["END"], Tools = [tool] };

        await client.GetResponseAsync("hi", options);

        Assert.Equal(2, inner.Calls.Count); // the 529, then the retry
        Assert.All(inner.Calls, call =>
        {
            Assert.Equal(0.25f, call.Temperature);
            Assert.Equal(321, call.MaxOutputTokens);
            Assert.Equal(["END"], call.StopSequences!);
            Assert.Same(tool, Assert.Single(call.Tools!));
        });
        Assert.Null(options.GetAttempt()); // each attempt had a copy: the caller's options are left as they were
    }

    [Fact]
    public async Task A_request_id_given_without_a_scope_becomes_the_scopes_id()
    {
        // Without a routing stage above, the stage starts the request's scope itself, under the caller's request id:
        // a stage below that reads the scope (the ledger, a cache) sees the same id as one reading the option.
        var inner = new ScriptedClient { Failures = 1 };
        using var client = new FallbackChatClient(inner, new FallbackOptions { TimeProvider = _time, Randomizer = () => 0.5 });

        await client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-haiku-4-5" }.WithRequestId("req-given"));

        Assert.Equal(["req-given", "req-given"], inner.Calls.Select(c => ModelMixChatOptions.ScopeOf(c)?.RequestId));
    }

    [Fact]
    public async Task No_model_is_asked_twice_when_a_chain_entry_stands_for_a_fit_already_tried()
    {
        // On the 5.x catalog Claude Opus 5.5 rejects forced tool use and its first substitute is Claude Opus 5
        // (FallbackChainTests). The call starts on Opus 5: when it fails, the chain's only entry, Opus 5.5, stands for
        // its fit — which must not be Opus 5 again (the first model is among those tried), nor, when that fit fails
        // too, the fit already tried (each fallback is among those tried). Every model that accepts the request is
        // asked once, then the last failure reaches the caller.
        var inner = new ScriptedClient { Failures = 40 };
        using var client = new FallbackChatClient(inner, new FallbackOptions
        {
            TimeProvider = _time,
            MaxRetriesPerModel = 0,
            Chain = ["claude-opus-5-5"],
            PriceBook = PriceBook.Default,
        });
        var options = new ChatOptions
        {
            ModelId = "claude-opus-5",
            Tools = [AIFunctionFactory.Create(() => "sunny", "weather")],
            ToolMode = ChatToolMode.RequireAny,
        };

        await Assert.ThrowsAsync<Anthropic5xxException>(() => client.GetResponseAsync("hi", options));

        var models = inner.Calls.Select(c => c.ModelId!).ToList();
        Assert.True(models.Count >= 2, $"the call fell back at least once: {string.Join(", ", models)}");
        Assert.Equal("claude-opus-5", models[0]);
        Assert.Equal(models.Count, models.Distinct(StringComparer.Ordinal).Count());
        Assert.DoesNotContain("claude-opus-5-5", models); // it rejects the request as it is
    }

    [Fact]
    public async Task The_options_randomizer_is_the_jitters_source()
    {
        var drawn = 0;
        var inner = new ScriptedClient { Failures = 2 };
        using var client = new FallbackChatClient(inner, new FallbackOptions
        {
            TimeProvider = _time,
            Randomizer = () =>
            {
                drawn++;
                return 0.5;
            },
        });

        await client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-haiku-4-5" });

        Assert.Equal(2, _time.Delays.Count);
        Assert.True(drawn > 0, "the jitter drew from the given randomizer");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void A_blank_name_resolves_to_nothing(string? name)
    {
        Assert.Null(FallbackChain.Resolve(TestPrices.Tiers4x, name));
    }

    [Fact]
    public void A_blank_chain_entry_or_long_context_model_is_a_problem()
    {
        FallbackChain.Create(["  "], "  ", TestPrices.Tiers4x, null, "ModelMix:Fallback", out var problems);

        Assert.Equal(2, problems.Count);
        Assert.StartsWith("'ModelMix:Fallback:Chain:0' is '  ', neither a tier", problems[0], StringComparison.Ordinal);
        Assert.StartsWith("'ModelMix:Fallback:LongContextModel' is '  ', neither a tier", problems[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stream_with_no_update_ends_with_none()
    {
        var inner = new ScriptedClient { StreamUpdates = [] };
        using var client = new FallbackChatClient(inner, new FallbackOptions { TimeProvider = _time });

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync("hi", new ChatOptions { ModelId = "claude-haiku-4-5" }))
        {
            updates.Add(update);
        }

        Assert.Empty(updates);
        Assert.Single(inner.Calls);
    }

    [Fact]
    public async Task A_stream_after_a_retry_relays_every_update_in_order()
    {
        var inner = new ScriptedClient { Failures = 1, StreamUpdates = ["one", "two", "three"] };
        using var client = new FallbackChatClient(inner, new FallbackOptions { TimeProvider = _time, Randomizer = () => 0.5 });

        var texts = new List<string>();
        await foreach (var update in client.GetStreamingResponseAsync("hi", new ChatOptions { ModelId = "claude-haiku-4-5" }))
        {
            texts.Add(update.Text);
        }

        Assert.Equal(["one", "two", "three"], texts);
        Assert.Equal([1, 2], inner.Calls.Select(c => c.GetAttempt()));
    }

    /// <summary>Fails its first <see cref="Failures"/> calls with a 529, then answers; copies every call's options.</summary>
    private sealed class ScriptedClient : IChatClient
    {
        public int Failures { get; init; }

        public string[] StreamUpdates { get; init; } = ["ok"];

        public List<ChatOptions> Calls { get; } = [];

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Calls.Add(options!.Clone());
            return Calls.Count <= Failures
                ? Task.FromException<ChatResponse>(Overloaded())
                : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));
        }

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages,
            ChatOptions? options = null,
            [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            Calls.Add(options!.Clone());
            await Task.Yield();
            if (Calls.Count <= Failures)
            {
                throw Overloaded();
            }

            foreach (var text in StreamUpdates)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, text);
            }
        }

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("scripted", defaultModelId: "claude-haiku-4-5") : null;

        public void Dispose()
        {
        }
    }
}
