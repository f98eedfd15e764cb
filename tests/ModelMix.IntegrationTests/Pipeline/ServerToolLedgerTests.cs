using FakeAnthropic;
using Microsoft.Extensions.AI;
using ModelMix.Pipeline;

namespace ModelMix.IntegrationTests.Pipeline;

/// <summary>
/// The library door prices server-tool fees (issue 20 §4): the official SDK's <c>AsIChatClient</c> over FakeAnthropic
/// reporting <c>usage.server_tool_use</c>, the ledger stage reading it from the SDK message, the SDK stream's
/// <c>message_delta</c>, or <see cref="UsageDetails.AdditionalCounts"/>.
/// </summary>
public sealed class ServerToolLedgerTests : LedgerPipelineTest
{
    private IChatClient Pipeline() => new ChatClientBuilder(Sdk.AsIChatClient("claude-haiku-4-5")).UseModelMixLedger(Recorder).Build();

    [Fact]
    public async Task Searches_reported_in_a_message_are_recorded_and_priced()
    {
        Server.Enqueue(FakeReply.Message().WithUsage(input: 1000, output: 500, webSearchRequests: 1000, webFetchRequests: 1));
        using var chat = Pipeline();

        var response = await chat.GetResponseAsync("What changed in the news today?", new ChatOptions { ModelId = "claude-haiku-4-5" });

        // The SDK's M.E.AI adapter names the counts WebSearchRequests / WebFetchRequests: what the UsageDetails path reads.
        Assert.Equal(1000, response.Usage!.AdditionalCounts!["WebSearchRequests"]);
        Assert.Equal(1, response.Usage!.AdditionalCounts!["WebFetchRequests"]);
        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal((1000L, 1L), (record.Usage.WebSearchRequests, record.Usage.WebFetchRequests));
        // Haiku 4.5 at $1 / $5 per MTok: 1000*1 + 500*5 = 3500 /1e6 = 0.0035; 1000 searches * $0.01 = 10; 1 fetch * $0.
        Assert.Equal(10.0035m, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task Searches_reported_in_a_streams_message_delta_are_recorded_and_priced()
    {
        Server.Enqueue(FakeReply.Stream().WithUsage(input: 40, output: 300, webSearchRequests: 3, webFetchRequests: 2));
        using var chat = Pipeline();

        await foreach (var _ in chat.GetStreamingResponseAsync("What changed in the news today?", new ChatOptions { ModelId = "claude-haiku-4-5" }))
        {
        }

        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.True(record.Streaming);
        Assert.Equal((3L, 2L), (record.Usage.WebSearchRequests, record.Usage.WebFetchRequests));
        // 40*1 + 300*5 = 1540 /1e6 = 0.00154; 3 searches * 0.01 = 0.03; total 0.03154.
        Assert.Equal(0.03154m, record.Cost!.Value.Total);
    }
}
