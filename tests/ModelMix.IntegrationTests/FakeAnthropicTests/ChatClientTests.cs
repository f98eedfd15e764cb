using FakeAnthropic;
using Microsoft.Extensions.AI;

namespace ModelMix.IntegrationTests.FakeAnthropicTests;

public sealed class ChatClientTests : FakeServerTest
{
    [Fact]
    public async Task AsIChatClient_gets_a_ChatResponse_with_usage_from_the_fake()
    {
        Server.Enqueue(FakeReply.Message("messages/response-cache-read.json"));
        using var chat = Client.AsIChatClient("claude-sonnet-4-5");

        var response = await chat.GetResponseAsync("Is it warm enough in Paris today for the linen field jacket?");

        Assert.Equal("claude-sonnet-4-5-20250929", response.ModelId);
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        Assert.Contains(response.Messages.SelectMany(m => m.Contents), c => c is FunctionCallContent { Name: "get_weather" });
        Assert.Equal(5591, response.Usage!.InputTokenCount);
        Assert.Equal(87, response.Usage.OutputTokenCount);
        Assert.Equal(5562, response.Usage.CachedInputTokenCount);
        Assert.Equal("claude-sonnet-4-5", Server.MessageRequests.Single().Json!["model"]!.GetValue<string>());
    }

    [Fact]
    public async Task AsIChatClient_streaming_reports_the_scripted_usage()
    {
        Server.Enqueue(FakeReply.Stream().WithUsage(input: 40, output: 22, cacheRead: 60));
        using var chat = Client.AsIChatClient("claude-haiku-4-5");

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync("Write a haiku about cost."))
        {
            updates.Add(update);
        }

        var response = updates.ToChatResponse();
        Assert.StartsWith("Pennies per thousand", response.Text, StringComparison.Ordinal);
        Assert.Equal(100, response.Usage!.InputTokenCount);
        Assert.Equal(22, response.Usage.OutputTokenCount);
        Assert.Equal(60, response.Usage.CachedInputTokenCount);
    }
}
