using FakeAnthropic;
using Microsoft.Extensions.AI;
using ModelMix.IntegrationTests.Pipeline;
using ModelMix.Ledger;
using ModelMix.Pipeline;

namespace ModelMix.IntegrationTests.Agent;

/// <summary>The loop guard stopping agent loops over real HTTP, with the trip in the SQLite ledger.</summary>
public sealed class LoopGuardTests : LedgerPipelineTest
{
    private int _weatherCalls;

    private ChatOptions AgentOptions(string session) => new ChatOptions
    {
        ModelId = "claude-haiku-4-5",
        MaxOutputTokens = 1024,
        Tools = [AIFunctionFactory.Create(
            (string city, string unit) =>
            {
                Interlocked.Increment(ref _weatherCalls);
                return $"{city}: 19 degrees {unit}";
            },
            "get_weather",
            "Current weather in a city.")],
    }.WithSessionId(session);

    [Fact]
    public async Task A_model_asking_for_the_same_tool_call_again_and_again_is_stopped_and_the_trip_is_recorded()
    {
        Server.SetDefault(FakeReply.Message("messages/response-tool-use.json")); // get_weather(Paris, celsius), forever
        using var chat = new ChatClientBuilder(Sdk.AsIChatClient("claude-haiku-4-5"))
            .UseFunctionInvocation()
            .UseModelMixLoopGuard(o => o.MaxRepeatedToolCalls = 3)
            .UseModelMixLedger(Recorder)
            .Build();

        var trip = await Assert.ThrowsAsync<LoopGuardException>(() => chat.GetResponseAsync("Jacket weather in Paris?", AgentOptions("loop-1")));

        Assert.Equal(LoopGuardLimit.RepeatedToolCall, trip.Limit);
        Assert.Equal("loop-1", trip.SessionId);
        Assert.Equal("get_weather", trip.FunctionName);
        Assert.Equal(3, Server.MessageCount);
        Assert.Equal(2, _weatherCalls); // the third identical call never ran

        var records = await CommittedRecordsAsync();
        Assert.Equal(4, records.Count);
        Assert.All(records.Take(3), r => Assert.Equal(LedgerStatus.Ok, r.Status));
        var tripRecord = records[3];
        Assert.Equal(LedgerStatus.Error, tripRecord.Status);
        Assert.Equal("loop_guard", tripRecord.ErrorType);
        Assert.Equal("loop-1", tripRecord.SessionId);
        Assert.Equal("claude-haiku-4-5", tripRecord.RoutedModel);
        Assert.Equal(0m, tripRecord.Cost!.Value.Total);
        Assert.Equal(trip.Message, tripRecord.Reason);
    }

    [Fact]
    public async Task A_session_past_its_step_limit_is_refused_before_the_call_is_sent()
    {
        Server.SetDefault(FakeReply.Message("messages/response-tool-use.json"));
        using var chat = new ChatClientBuilder(Sdk.AsIChatClient("claude-haiku-4-5"))
            .UseFunctionInvocation()
            .UseModelMixLoopGuard(o =>
            {
                o.MaxStepsPerSession = 2;
                o.MaxRepeatedToolCalls = null;
            })
            .UseModelMixLedger(Recorder)
            .Build();

        var trip = await Assert.ThrowsAsync<LoopGuardException>(() => chat.GetResponseAsync("Jacket weather in Paris?", AgentOptions("steps-1")));

        Assert.Equal(LoopGuardLimit.Steps, trip.Limit);
        Assert.Equal(3m, trip.Observed);
        Assert.Equal(2m, trip.LimitValue);
        Assert.Equal(2, Server.MessageCount);

        var records = await CommittedRecordsAsync();
        Assert.Equal(3, records.Count);
        Assert.Equal([LedgerStatus.Ok, LedgerStatus.Ok, LedgerStatus.Error], records.Select(r => r.Status));
        Assert.Equal("loop_guard", records[2].ErrorType);
        Assert.Equal(0, records[2].HttpStatus);
        Assert.Contains("stopped at step 3", records[2].Reason);
    }

    [Fact]
    public async Task The_two_pass_agent_composes_with_the_guard_and_a_trip_ends_the_run_cleanly()
    {
        Server.SetDefault(FakeReply.Message("messages/response-tool-use.json"));
        var model = new ChatClientBuilder(Sdk.AsIChatClient("claude-haiku-4-5"))
            .UseModelMixLoopGuard(o => o.MaxRepeatedToolCalls = 2)
            .UseModelMixLedger(Recorder)
            .Build();
        var agent = new TwoPassAgent(model);

        var trip = await Assert.ThrowsAsync<LoopGuardException>(() => agent.RunAsync("Jacket weather in Paris?", AgentOptions("agent-9")));

        Assert.Equal(LoopGuardLimit.RepeatedToolCall, trip.Limit);
        var records = await CommittedRecordsAsync();
        Assert.Equal(3, records.Count);
        Assert.All(records, r => Assert.Equal("two-pass", r.Policy));
        Assert.Equal("loop_guard", records[2].ErrorType);
        Assert.Equal(records[0].RequestId, records[2].RequestId);
        Assert.Equal(2, records[2].Attempt);
    }
}
