using System.Text.Json.Nodes;
using FakeAnthropic;
using Microsoft.Extensions.AI;
using ModelMix.Caching;
using ModelMix.Pipeline;

namespace ModelMix.IntegrationTests.Pipeline;

/// <summary>
/// <see cref="PromptCachingChatClient"/> through the official SDK's <c>AsIChatClient</c> against FakeAnthropic's cache
/// simulator: the wire body carries the breakpoints, the usage shows the write then the read, and the caller's
/// messages and tools are never changed.
/// </summary>
public sealed class PromptCachingChatClientTests : LedgerPipelineTest
{
    private static readonly string LongSystem = string.Concat(Enumerable.Range(0, 90).Select(i => $"Rule {i}: answer support tickets politely and cite the policy. "));

    private static List<ChatMessage> Conversation() =>
    [
        new(ChatRole.System, LongSystem),
        new(ChatRole.User, "Where is order 42?"),
        new(ChatRole.Assistant, "It shipped yesterday."),
        new(ChatRole.User, "And the refund policy?"),
    ];

    private IChatClient Client(Action<PromptCachingChatClientOptions>? configure = null) =>
        new ChatClientBuilder(Sdk.AsIChatClient("claude-sonnet-4-5")).UseModelMixPromptCaching(configure).Build();

    [Fact]
    public async Task The_sdk_sends_the_breakpoints_and_the_second_call_reads_the_cache()
    {
        Server.PromptCache = new PromptCacheSimulator();
        using var client = Client();
        var messages = Conversation();
        var options = new ChatOptions { ModelId = "claude-sonnet-4-5", MaxOutputTokens = 64 };

        var first = await client.GetResponseAsync(messages, options);
        var second = await client.GetResponseAsync(messages, options);

        var sent = Server.MessageRequests[0].Json!;
        Assert.Equal("ephemeral", sent["system"]![0]!["cache_control"]!["type"]!.GetValue<string>());
        Assert.Equal("5m", sent["system"]![0]!["cache_control"]!["ttl"]!.GetValue<string>()); // the SDK spells the default out
        Assert.NotNull(sent["messages"]![0]!["content"]![0]!["cache_control"]);
        Assert.Null(sent["messages"]![2]!["content"]![0]!["cache_control"]);
        Assert.True(first.Usage!.AdditionalCounts!["CacheCreationInputTokens"] > 1024);
        Assert.Equal(first.Usage.AdditionalCounts["CacheCreationInputTokens"], second.Usage!.CachedInputTokenCount);
        Assert.All(messages.SelectMany(m => m.Contents), c => Assert.True(c.AdditionalProperties is null || c.AdditionalProperties.Count == 0));
    }

    [Fact]
    public async Task Streaming_calls_get_the_breakpoints_too()
    {
        Server.PromptCache = new PromptCacheSimulator();
        using var client = Client();
        var messages = Conversation();
        var options = new ChatOptions { ModelId = "claude-sonnet-4-5", MaxOutputTokens = 64 };

        var first = await StreamUsageAsync(client, messages, options);
        var second = await StreamUsageAsync(client, messages, options);

        // The same breakpoints as the non-streaming call, on a streaming request.
        var sent = Server.MessageRequests[0].Json!;
        Assert.True(sent["stream"]!.GetValue<bool>());
        Assert.Equal("ephemeral", sent["system"]![0]!["cache_control"]!["type"]!.GetValue<string>());
        Assert.Equal("5m", sent["system"]![0]!["cache_control"]!["ttl"]!.GetValue<string>());
        Assert.Equal("ephemeral", sent["messages"]![0]!["content"]![0]!["cache_control"]!["type"]!.GetValue<string>());
        Assert.Null(sent["messages"]![2]!["content"]![0]!["cache_control"]);
        // The accounting the stream reports: the first call writes the prefix, the second reads exactly that much.
        Assert.True(first.AdditionalCounts!["CacheCreationInputTokens"] > 1024);
        Assert.Equal(first.AdditionalCounts["CacheCreationInputTokens"], second.CachedInputTokenCount);
        Assert.All(messages.SelectMany(m => m.Contents), c => Assert.True(c.AdditionalProperties is null || c.AdditionalProperties.Count == 0));
    }

    /// <summary>Streams one call to the end and returns the usage its updates reported.</summary>
    private static async Task<UsageDetails> StreamUsageAsync(IChatClient client, List<ChatMessage> messages, ChatOptions options)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(messages, options))
        {
            updates.Add(update);
        }

        return updates.ToChatResponse().Usage!;
    }

    [Fact]
    public async Task The_last_tool_gets_a_breakpoint_when_the_tools_alone_reach_the_minimum()
    {
        using var client = Client();
        var description = string.Concat(Enumerable.Repeat("Looks an order up by its id and returns status, items and tracking. ", 80));
        var tools = new List<AITool>
        {
            AIFunctionFactory.Create((string id) => "ok", "lookup_order", description),
            AIFunctionFactory.Create((string id) => "ok", "refund", "Refunds an order."),
        };

        await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { ModelId = "claude-sonnet-4-5", MaxOutputTokens = 64, Tools = tools });

        var sent = Server.MessageRequests[0].Json!;
        Assert.Null(sent["tools"]![0]!["cache_control"]);
        Assert.Equal("ephemeral", sent["tools"]![1]!["cache_control"]!["type"]!.GetValue<string>());
        Assert.Empty(tools[1].AdditionalProperties);
    }

    [Fact]
    public async Task Below_the_models_minimum_nothing_is_marked_and_batch_work_uses_one_hour()
    {
        using var client = Client();

        await client.GetResponseAsync(Conversation(), new ChatOptions { ModelId = "claude-haiku-4-5", MaxOutputTokens = 64 }); // ~1,800 < 4,096
        await client.GetResponseAsync(Conversation(), new ChatOptions { ModelId = "claude-sonnet-4-5", MaxOutputTokens = 64 }.WithBatch(true));

        Assert.DoesNotContain("cache_control", Server.MessageRequests[0].Body, StringComparison.Ordinal);
        Assert.Equal("1h", Server.MessageRequests[1].Json!["system"]![0]!["cache_control"]!["ttl"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_callers_breakpoint_is_kept_and_not_duplicated()
    {
        using var client = Client();
        var messages = Conversation();
        messages[0] = new ChatMessage(ChatRole.System, [new TextContent(LongSystem).WithCacheControl(Anthropic.Models.Messages.Ttl.Ttl1h)]);

        await client.GetResponseAsync(messages, new ChatOptions { ModelId = "claude-sonnet-4-5", MaxOutputTokens = 64 });

        var body = Server.MessageRequests[0].Body;
        Assert.Equal("1h", JsonNode.Parse(body)!["system"]![0]!["cache_control"]!["ttl"]!.GetValue<string>());
        Assert.Equal(2, (body.Length - body.Replace("\"cache_control\"", string.Empty, StringComparison.Ordinal).Length) / "\"cache_control\"".Length);
    }

    [Fact]
    public async Task Breakpoints_that_cache_nothing_are_counted_as_unexpected_misses()
    {
        Server.PromptCache = new PromptCacheSimulator();
        Server.PromptCache.Minimums["claude-sonnet-4-5"] = 100_000; // the upstream silently refuses to cache this prefix
        var misses = new PromptCacheMissMonitor();
        using var client = new PromptCachingChatClient(Sdk.AsIChatClient("claude-sonnet-4-5"), misses: misses);

        await client.GetResponseAsync(Conversation(), new ChatOptions { ModelId = "claude-sonnet-4-5", MaxOutputTokens = 64 });

        Assert.Contains("cache_control", Server.MessageRequests[0].Body, StringComparison.Ordinal);
        Assert.Equal(1, misses.Count);
    }
}
