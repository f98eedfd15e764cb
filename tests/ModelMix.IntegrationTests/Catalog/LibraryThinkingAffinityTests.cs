using FakeAnthropic;
using Microsoft.Extensions.AI;
using ModelMix.IntegrationTests.Pipeline;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.IntegrationTests.Catalog;

/// <summary>
/// Thinking-aware routing at the library door (<c>UseModelMixRouting</c>, the same <see cref="Caching.ThinkingAffinity"/>
/// core as the proxy), over the official SDK against FakeAnthropic's <see cref="PreservedThinkingSimulator"/>: a policy
/// that moves a conversation carrying thinking blocks to a cheaper model that cannot read them is overruled; a pin is not,
/// and the drop the API reports is recorded.
/// </summary>
public sealed class LibraryThinkingAffinityTests : LedgerPipelineTest
{
    /// <summary>Routes every call to <see cref="Target"/> by a plain rule (not a pin), unless the task label is pinned.</summary>
    private sealed class SwitchingPolicy : IRoutingPolicy
    {
        private readonly PinnedPolicy _pins = new([new("quick", "haiku")], PriceBook.Default);

        public string Target { get; set; } = "claude-opus-5-5";

        public string Name => "switching";

        public async ValueTask<RoutingDecision?> DecideAsync(RoutingRequest request, CancellationToken cancellationToken = default) =>
            await _pins.DecideAsync(request, cancellationToken) ?? new RoutingDecision(Target, $"rule 'test' → {Target}", 1.0, "rules");
    }

    private IChatClient Client(SwitchingPolicy policy, bool keepThinkingModel = true) => new ChatClientBuilder(Sdk.AsIChatClient("claude-haiku-5-5"))
        .UseModelMixRouting(policy, o => o.KeepThinkingModel = keepThinkingModel)
        .UseModelMixLedger(Recorder)
        .Build();

    private static ChatOptions Options(string session, string? task = null) =>
        new ChatOptions { MaxOutputTokens = 256, Reasoning = new ReasoningOptions { Effort = ReasoningEffort.Medium } }
            .WithSessionId(session).WithTaskLabel(task);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_cheaper_rule_keeps_the_conversation_on_the_model_that_reads_its_thinking(bool streaming)
    {
        var simulator = new PreservedThinkingSimulator();
        Server.PreservedThinking = simulator;
        var policy = new SwitchingPolicy();
        using var client = Client(policy);
        var session = "s-" + Guid.NewGuid().ToString("N");
        List<ChatMessage> history = [];
        for (var turn = 1; turn <= 3; turn++)
        {
            policy.Target = turn == 1 ? "claude-opus-5-5" : "claude-haiku-5-5";
            history.Add(new ChatMessage(ChatRole.User, $"Turn {turn}: what is due on invoice INV-{turn:000}?"));
            var response = streaming
                ? await client.GetStreamingResponseAsync(history, Options(session)).ToChatResponseAsync()
                : await client.GetResponseAsync(history, Options(session));
            Assert.Contains(response.Messages.SelectMany(m => m.Contents), c => c is TextReasoningContent); // the answer carries its thinking
            history.AddMessages(response);
        }

        Assert.Equal(0, simulator.RejectedRequests);
        Assert.Equal(0, simulator.DroppedBlocks);
        var sent = Server.MessageRequests.Select(r => r.Json!).ToList();
        Assert.Equal(3, sent.Count);
        Assert.All(sent, body => Assert.Equal("claude-opus-5-5", body["model"]!.GetValue<string>()));
        Assert.Contains(sent[1]["messages"]!.AsArray()[1]!["content"]!.AsArray(), block => block!["type"]!.GetValue<string>() == "thinking"); // the block went back

        var records = await CommittedRecordsAsync();
        Assert.Equal(3, records.Count);
        Assert.All(records, r => Assert.Equal(0, r.ThinkingBlocksDropped));
        foreach (var record in records.Skip(1))
        {
            Assert.Equal("thinking-kept", record.Policy);
            Assert.StartsWith("thinking-kept on claude-opus-5-5: claude-haiku-5-5 cannot read the thinking blocks claude-opus-5-5 made", record.Reason, StringComparison.Ordinal);
            Assert.Equal("claude-opus-5-5", record.RoutedModel);
        }
    }

    [Fact]
    public async Task A_pin_moves_the_conversation_and_the_dropped_block_is_recorded()
    {
        var simulator = new PreservedThinkingSimulator();
        Server.PreservedThinking = simulator;
        using var client = Client(new SwitchingPolicy());
        var session = "s-" + Guid.NewGuid().ToString("N");
        List<ChatMessage> history = [new(ChatRole.User, "Turn 1: what is due on invoice INV-001?")];
        history.AddMessages(await client.GetResponseAsync(history, Options(session)));
        history.Add(new ChatMessage(ChatRole.User, "Turn 2: and on INV-002?"));

        await client.GetResponseAsync(history, Options(session, task: "quick"));

        Assert.Equal(["claude-opus-5-5", "claude-haiku-5-5"], Server.MessageRequests.Select(r => r.Json!["model"]!.GetValue<string>()));
        Assert.Equal(1, simulator.DroppedBlocks);
        var records = await CommittedRecordsAsync();
        var pinned = Assert.Single(records, r => r.RoutedModel == "claude-haiku-5-5");
        Assert.Equal("pinned", pinned.Policy);
        Assert.Contains("(a pin moves it anyway)", pinned.Reason, StringComparison.Ordinal);
        Assert.Equal(1, pinned.ThinkingBlocksDropped);
    }

    [Fact]
    public async Task With_KeepThinkingModel_off_the_rule_moves_the_conversation_and_the_drop_is_recorded()
    {
        var simulator = new PreservedThinkingSimulator();
        Server.PreservedThinking = simulator;
        var policy = new SwitchingPolicy();
        using var client = Client(policy, keepThinkingModel: false);
        var session = "s-" + Guid.NewGuid().ToString("N");
        List<ChatMessage> history = [new(ChatRole.User, "Turn 1.")];
        history.AddMessages(await client.GetResponseAsync(history, Options(session)));
        history.Add(new ChatMessage(ChatRole.User, "Turn 2."));
        policy.Target = "claude-haiku-5-5";

        await client.GetResponseAsync(history, Options(session));

        Assert.Equal(1, simulator.DroppedBlocks);
        Assert.Equal(1, (await CommittedRecordsAsync()).Single(r => r.RoutedModel == "claude-haiku-5-5").ThinkingBlocksDropped);
    }
}
