using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Tests.Pipeline;

namespace ModelMix.Tests.Agent;

public sealed class LoopGuardTests
{
    private static readonly Dictionary<string, object?> Paris = new() { ["city"] = "Paris", ["unit"] = "celsius" };

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 4, 1, 9, 0, 0, TimeSpan.Zero));
    private readonly RecordingLedger _ledger = new();

    private static ChatOptions Session(string id = "s1") => new ChatOptions { ModelId = "claude-haiku-4-5" }.WithSessionId(id);

    // Haiku: $1 / MTok input, so 100,000 input tokens cost $0.10.
    private static ChatResponse TenCents() => ScriptedAgentClient.Text("ok", input: 100_000, output: 0);

    private (IChatClient Chat, ScriptedAgentClient Inner) Guarded(Action<LoopGuardOptions> configure, params Func<ChatResponse>[] script)
    {
        var inner = new ScriptedAgentClient(script.Length > 0 ? script : [() => ScriptedAgentClient.Text("ok")]);
        var chat = new ChatClientBuilder(inner)
            .UseModelMixLoopGuard(options =>
            {
                options.TimeProvider = _time;
                configure(options);
            })
            .UseModelMixLedger(new AttemptRecorder(PriceBook.Default, _ledger), o => o.TimeProvider = _time)
            .Build();
        return (chat, inner);
    }

    [Fact]
    public async Task Max_steps_refuses_the_call_after_the_limit_before_it_reaches_the_model()
    {
        var (chat, inner) = Guarded(o => o.MaxStepsPerSession = 3);
        for (var i = 0; i < 3; i++)
        {
            await chat.GetResponseAsync("step", Session());
        }

        var trip = await Assert.ThrowsAsync<LoopGuardException>(() => chat.GetResponseAsync("step", Session()));

        Assert.Equal(LoopGuardLimit.Steps, trip.Limit);
        Assert.Equal("s1", trip.SessionId);
        Assert.Equal(4m, trip.Observed);
        Assert.Equal(3m, trip.LimitValue);
        Assert.Contains("session 's1' stopped at step 4", trip.Message);
        Assert.Equal(3, inner.Calls.Count);
    }

    [Fact]
    public async Task A_trip_is_recorded_in_the_ledger_below_as_an_error_of_type_loop_guard_with_no_cost()
    {
        var (chat, _) = Guarded(o => o.MaxStepsPerSession = 1);
        await chat.GetResponseAsync("step", Session().WithTaskLabel("agent"));

        await Assert.ThrowsAsync<LoopGuardException>(() => chat.GetResponseAsync("step", Session().WithTaskLabel("agent")));

        Assert.Equal(2, _ledger.Records.Count);
        var trip = _ledger.Records[1];
        Assert.Equal(LedgerStatus.Error, trip.Status);
        Assert.Equal("loop_guard", trip.ErrorType);
        Assert.Equal("s1", trip.SessionId);
        Assert.Equal("agent", trip.TaskLabel);
        Assert.Equal("claude-haiku-4-5", trip.RoutedModel);
        Assert.Equal(0, trip.HttpStatus);
        Assert.Equal(0m, trip.Cost!.Value.Total);
        Assert.Contains("limit is 1 model calls", trip.Reason);
        Assert.Equal(_time.GetUtcNow(), trip.Timestamp);
    }

    [Fact]
    public async Task Sessions_are_counted_apart_and_calls_without_a_session_pass_unguarded()
    {
        var (chat, inner) = Guarded(o => o.MaxStepsPerSession = 1);

        await chat.GetResponseAsync("a", Session("a"));
        await chat.GetResponseAsync("b", Session("b"));
        for (var i = 0; i < 5; i++)
        {
            await chat.GetResponseAsync("anonymous", new ChatOptions { ModelId = "claude-haiku-4-5" });
        }

        await Assert.ThrowsAsync<LoopGuardException>(() => chat.GetResponseAsync("a", Session("a")));
        Assert.Equal(7, inner.Calls.Count);
    }

    [Fact]
    public async Task Calls_without_a_session_are_guarded_together_when_asked()
    {
        var (chat, _) = Guarded(o =>
        {
            o.MaxStepsPerSession = 2;
            o.GuardCallsWithoutSession = true;
        });
        await chat.GetResponseAsync("1");
        await chat.GetResponseAsync("2");

        var trip = await Assert.ThrowsAsync<LoopGuardException>(() => chat.GetResponseAsync("3"));
        Assert.Equal("(no session)", trip.SessionId);
    }

    [Fact]
    public async Task Max_spend_per_session_refuses_calls_once_the_priced_spend_reaches_the_limit()
    {
        var (chat, inner) = Guarded(o => o.MaxSpendPerSession = 0.25m, TenCents);
        for (var i = 0; i < 3; i++)
        {
            await chat.GetResponseAsync("spend", Session()); // $0.10, $0.20 (< 0.25: allowed), $0.30
        }

        var trip = await Assert.ThrowsAsync<LoopGuardException>(() => chat.GetResponseAsync("spend", Session()));

        Assert.Equal(LoopGuardLimit.Spend, trip.Limit);
        Assert.Equal(0.30m, trip.Observed);
        Assert.Equal(0.25m, trip.LimitValue);
        Assert.Contains("spent $0.3, the limit is $0.25", trip.Message);
        Assert.Equal(3, inner.Calls.Count);
    }

    [Fact]
    public async Task Spend_per_window_slides_with_the_clock()
    {
        var (chat, _) = Guarded(
            o =>
            {
                o.MaxSpendPerWindow = 0.15m;
                o.SpendWindow = TimeSpan.FromMinutes(1);
            },
            TenCents);
        await chat.GetResponseAsync("1", Session());
        _time.Advance(TimeSpan.FromSeconds(10));
        await chat.GetResponseAsync("2", Session()); // $0.10 in the window: allowed

        _time.Advance(TimeSpan.FromSeconds(10));
        var trip = await Assert.ThrowsAsync<LoopGuardException>(() => chat.GetResponseAsync("3", Session()));
        Assert.Equal(LoopGuardLimit.SpendVelocity, trip.Limit);
        Assert.Equal(0.20m, trip.Observed);

        _time.Advance(TimeSpan.FromSeconds(41)); // the first call left the window: $0.10 remains
        await chat.GetResponseAsync("4", Session());
    }

    [Fact]
    public async Task The_same_tool_call_asked_for_the_Nth_time_trips_whatever_the_order_of_its_arguments()
    {
        var reordered = new Dictionary<string, object?> { ["unit"] = "celsius", ["city"] = "Paris" };
        var (chat, _) = Guarded(
            o => o.MaxRepeatedToolCalls = 3,
            () => ScriptedAgentClient.ToolCall("get_weather", Paris),
            () => ScriptedAgentClient.ToolCall("get_weather", new Dictionary<string, object?> { ["city"] = "Lyon", ["unit"] = "celsius" }),
            () => ScriptedAgentClient.ToolCall("get_weather", reordered),
            () => ScriptedAgentClient.ToolCall("get_weather", Paris));

        await chat.GetResponseAsync("1", Session());
        await chat.GetResponseAsync("2", Session()); // other arguments: another call
        await chat.GetResponseAsync("3", Session()); // same call, keys reordered: 2nd time

        var trip = await Assert.ThrowsAsync<LoopGuardException>(() => chat.GetResponseAsync("4", Session()));

        Assert.Equal(LoopGuardLimit.RepeatedToolCall, trip.Limit);
        Assert.Equal("get_weather", trip.FunctionName);
        Assert.Equal(3m, trip.Observed);
        Assert.Contains("asked for get_weather with the same arguments 3 times", trip.Message);
        // The paid response is recorded by the ledger below, then the trip.
        Assert.Equal(5, _ledger.Records.Count);
        Assert.Equal(LedgerStatus.Ok, _ledger.Records[3].Status);
        Assert.Equal("loop_guard", _ledger.Records[4].ErrorType);
    }

    [Fact]
    public async Task A_repeated_tool_call_in_a_stream_trips_when_the_stream_ends()
    {
        var (chat, _) = Guarded(o => o.MaxRepeatedToolCalls = 2, () => ScriptedAgentClient.ToolCall("get_weather", Paris));
        await foreach (var _ in chat.GetStreamingResponseAsync("1", Session()))
        {
        }

        var updates = 0;
        var trip = await Assert.ThrowsAsync<LoopGuardException>(async () =>
        {
            await foreach (var _ in chat.GetStreamingResponseAsync("2", Session()))
            {
                updates++;
            }
        });

        Assert.True(updates > 0);
        Assert.Equal(LoopGuardLimit.RepeatedToolCall, trip.Limit);
    }

    [Fact]
    public async Task Streamed_spend_counts_towards_the_session_limit()
    {
        var (chat, _) = Guarded(o => o.MaxSpendPerSession = 0.1m, TenCents);
        await foreach (var _ in chat.GetStreamingResponseAsync("1", Session()))
        {
        }

        var trip = await Assert.ThrowsAsync<LoopGuardException>(async () =>
        {
            await foreach (var _ in chat.GetStreamingResponseAsync("2", Session()))
            {
            }
        });
        Assert.Equal(0.10m, trip.Observed);
    }

    [Fact]
    public async Task Idle_sessions_are_forgotten_so_memory_stays_bounded()
    {
        var inner = new ScriptedAgentClient(() => ScriptedAgentClient.Text("ok"));
        using var guard = new LoopGuardChatClient(inner, new LoopGuardOptions
        {
            MaxStepsPerSession = 1,
            SessionIdleTimeout = TimeSpan.FromMinutes(10),
            TimeProvider = _time,
        });
        for (var i = 0; i < 50; i++)
        {
            await guard.GetResponseAsync("hi", Session($"s{i}"));
        }

        Assert.Equal(50, guard.SessionCount);
        await Assert.ThrowsAsync<LoopGuardException>(() => guard.GetResponseAsync("again", Session("s0")));

        _time.Advance(TimeSpan.FromMinutes(11));
        await guard.GetResponseAsync("new", Session("other"));

        Assert.Equal(1, guard.SessionCount);
        await guard.GetResponseAsync("fresh start", Session("s0")); // forgotten: its steps start over
    }

    [Fact]
    public async Task Without_a_recorder_a_trip_is_still_thrown()
    {
        using var guard = new LoopGuardChatClient(new ScriptedAgentClient(), new LoopGuardOptions { MaxStepsPerSession = 1, TimeProvider = _time });
        await guard.GetResponseAsync("1", Session());

        await Assert.ThrowsAsync<LoopGuardException>(() => guard.GetResponseAsync("2", Session()));
    }

    [Theory]
    [InlineData(nameof(LoopGuardOptions.MaxStepsPerSession))]
    [InlineData(nameof(LoopGuardOptions.MaxSpendPerSession))]
    [InlineData(nameof(LoopGuardOptions.MaxSpendPerWindow))]
    [InlineData(nameof(LoopGuardOptions.MaxRepeatedToolCalls))]
    [InlineData(nameof(LoopGuardOptions.SpendWindow))]
    [InlineData(nameof(LoopGuardOptions.SessionIdleTimeout))]
    public void Out_of_range_options_fail_naming_the_option(string name)
    {
        var options = new LoopGuardOptions();
        switch (name)
        {
            case nameof(LoopGuardOptions.MaxStepsPerSession): options.MaxStepsPerSession = 0; break;
            case nameof(LoopGuardOptions.MaxSpendPerSession): options.MaxSpendPerSession = 0m; break;
            case nameof(LoopGuardOptions.MaxSpendPerWindow): options.MaxSpendPerWindow = -1m; break;
            case nameof(LoopGuardOptions.MaxRepeatedToolCalls): options.MaxRepeatedToolCalls = 0; break;
            case nameof(LoopGuardOptions.SpendWindow): options.SpendWindow = TimeSpan.Zero; break;
            case nameof(LoopGuardOptions.SessionIdleTimeout): options.SessionIdleTimeout = TimeSpan.FromSeconds(-1); break;
        }

        var error = Assert.ThrowsAny<ArgumentException>(() => new LoopGuardChatClient(new ScriptedAgentClient(), options));
        Assert.Equal(name, error.ParamName);
    }
}
