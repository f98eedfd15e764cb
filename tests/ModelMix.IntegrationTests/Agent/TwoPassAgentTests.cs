using FakeAnthropic;
using Microsoft.Extensions.AI;
using ModelMix.IntegrationTests.Pipeline;
using ModelMix.Ledger;
using ModelMix.Pipeline;

namespace ModelMix.IntegrationTests.Agent;

/// <summary>The two-pass agent over real HTTP: SDK <c>AsIChatClient</c> → FakeAnthropic, every call in a SQLite ledger.</summary>
public sealed class TwoPassAgentTests : LedgerPipelineTest
{
    private const string Prompt = "Is it warm enough in Paris today for the linen field jacket?";

    private int _weatherCalls;

    private ChatOptions AgentOptions() => new ChatOptions
    {
        MaxOutputTokens = 1024,
        Tools = [AIFunctionFactory.Create(
            (string city, string unit) =>
            {
                Interlocked.Increment(ref _weatherCalls);
                return $"{city}: 19 degrees {unit}, light wind, no rain";
            },
            "get_weather",
            "Current weather in a city.")],
    }.WithSessionId("agent-7").WithTaskLabel("shopping-assistant");

    private TwoPassAgent Agent(TwoPassAgentOptions options) =>
        new(new ChatClientBuilder(Sdk.AsIChatClient("claude-haiku-4-5")).UseModelMixLedger(Recorder).Build(), options);

    [Fact]
    public async Task Without_a_trigger_the_cheap_tool_loop_answers_and_the_ledger_shows_pass_1_only()
    {
        Server.Enqueue(FakeReply.Message("messages/response-tool-use.json"));
        Server.Enqueue(FakeReply.Message("messages/response-text.json"));

        var result = await Agent(new TwoPassAgentOptions()).RunAsync(Prompt, AgentOptions());

        Assert.False(result.Synthesized);
        Assert.Equal(1, result.Passes);
        Assert.Equal(1, result.ToolCalls);
        Assert.Equal(1, _weatherCalls);
        Assert.Equal(2, Server.MessageCount);
        Assert.Same(result.ToolLoopResponse, result.Response);
        Assert.StartsWith("A model router", result.Response.Messages[^1].Text);

        var records = await CommittedRecordsAsync();
        Assert.Equal(2, records.Count);
        Assert.All(records, r =>
        {
            Assert.Equal("two-pass", r.Policy);
            Assert.Equal("pass 1 (tool loop) on haiku", r.Reason);
            Assert.Equal("claude-haiku-5-5", r.RoutedModel); // the default cheap model: tier haiku in the catalog
            Assert.Equal(result.RequestId, r.RequestId);
            Assert.Equal("agent-7", r.SessionId);
            Assert.Equal(LedgerStatus.Ok, r.Status);
            Assert.True(r.Cost!.Value.Total > 0);
        });
        Assert.Equal([1, 2], records.Select(r => r.Attempt));
    }

    [Fact]
    public async Task With_enough_tool_calls_the_strong_model_writes_the_answer_and_each_pass_is_recorded_with_its_reason()
    {
        for (var i = 0; i < 3; i++)
        {
            Server.Enqueue(FakeReply.Message("messages/response-tool-use.json"));
        }

        Server.Enqueue(FakeReply.Message("messages/response-text.json")); // the cheap model's draft
        Server.Enqueue(FakeReply.Message("messages/response-text.json").WithUsage(input: 6_000, output: 400)); // Opus

        var result = await Agent(new TwoPassAgentOptions { SynthesisMinToolCalls = 3 }).RunAsync(Prompt, AgentOptions());

        Assert.True(result.Synthesized);
        Assert.Equal(2, result.Passes);
        Assert.Equal(4, result.Steps);
        Assert.Equal(3, result.ToolCalls);
        Assert.Equal("3 tool calls ≥ 3", result.SynthesisReason);
        Assert.StartsWith("claude-opus-5-5", result.Response.ModelId);
        Assert.Single(result.Response.Messages);

        var records = await CommittedRecordsAsync();
        Assert.Equal(5, records.Count);
        Assert.All(records.Take(4), r => Assert.Equal(("two-pass", "pass 1 (tool loop) on haiku", "claude-haiku-5-5"), (r.Policy, r.Reason, r.RoutedModel)));
        var synthesis = records[4];
        Assert.Equal("two-pass", synthesis.Policy);
        Assert.Equal("pass 2 (synthesis) on opus: 3 tool calls ≥ 3", synthesis.Reason);
        Assert.Equal("claude-opus-5-5", synthesis.RoutedModel); // the default strong model: tier opus in the catalog
        Assert.Equal(5, synthesis.Attempt);
        Assert.All(records, r => Assert.Equal(result.RequestId, r.RequestId));
        // Opus 5.5 rates ($4 / $20 per MTok) on the synthesis call: 6,000 × 4 / 1e6 + 400 × 20 / 1e6 = 0.024 + 0.008 = 0.032.
        Assert.Equal(0.032m, synthesis.Cost!.Value.Total);

        // What the strong model was sent: the tool results, no tool choice, the instruction last; not the draft.
        var sent = Server.MessageRequests[^1].Json!;
        Assert.Equal("claude-opus-5-5", sent["model"]!.GetValue<string>());
        Assert.Equal("none", sent["tool_choice"]?["type"]?.GetValue<string>());
        var messages = sent["messages"]!.AsArray();
        Assert.Equal(3, messages.SelectMany(m => m!["content"] is System.Text.Json.Nodes.JsonArray blocks ? blocks : []).Count(b => b?["type"]?.GetValue<string>() == "tool_result"));
        Assert.Contains("final answer", messages[^1]!.ToJsonString());
    }

    [Fact]
    public async Task A_strong_model_that_would_refuse_the_synthesis_call_is_passed_over_for_one_that_accepts_it()
    {
        // Issue 19: thinking disabled (ReasoningEffort.None, sent by the SDK as thinking {"type":"disabled"}) is refused
        // by Claude Opus 5.5, the default strong model, and accepted by Haiku 5.5 and by Opus 5.5's catalog substitute,
        // Claude Opus 5 (docs/models.md). FakeAnthropic answers such a call to Opus 5.5 with a 400.
        for (var i = 0; i < 3; i++)
        {
            Server.Enqueue(FakeReply.Message("messages/response-tool-use.json"));
        }

        Server.Enqueue(FakeReply.Message("messages/response-text.json")); // the cheap model's draft
        Server.Enqueue(FakeReply.Message("messages/response-text.json").WithUsage(input: 6_000, output: 400)); // the synthesis
        var options = AgentOptions();
        options.Reasoning = new ReasoningOptions { Effort = ReasoningEffort.None };

        var result = await Agent(new TwoPassAgentOptions { SynthesisMinToolCalls = 3 }).RunAsync(Prompt, options);

        Assert.True(result.Synthesized);
        var records = await CommittedRecordsAsync();
        Assert.Equal(5, records.Count);
        Assert.All(records, r => Assert.Equal(LedgerStatus.Ok, r.Status)); // no 400 anywhere
        var synthesis = records[4];
        Assert.Equal("claude-opus-5", synthesis.RoutedModel);
        Assert.Contains("claude-opus-5-5 skipped", synthesis.Reason, StringComparison.Ordinal);
        Assert.Equal("claude-opus-5", Server.MessageRequests[^1].Json!["model"]!.GetValue<string>());
        Assert.Equal("disabled", Server.MessageRequests[^1].Json!["thinking"]!["type"]!.GetValue<string>());
    }
}
