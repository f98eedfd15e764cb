using Microsoft.Extensions.Time.Testing;
using ModelMix.Pipeline;
using CoreGuard = ModelMix.Pipeline.LoopGuard;

namespace ModelMix.Tests.LoopGuard;

/// <summary>The loop guard's door-neutral core (<see cref="CoreGuard"/>), used by the library stage and the proxy alike.</summary>
public sealed class LoopGuardCoreTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 20, 0, 0, TimeSpan.Zero));

    private CoreGuard Guard(Action<LoopGuardOptions> configure)
    {
        var options = new LoopGuardOptions { MaxStepsPerSession = null, MaxRepeatedToolCalls = null };
        configure(options);
        return new CoreGuard(options, _time);
    }

    [Fact]
    public void The_step_past_the_limit_trips_and_is_not_counted_and_other_sessions_and_keys_are_their_own()
    {
        var guard = Guard(o => o.MaxStepsPerSession = 2);

        Assert.Null(guard.Begin(null, "s", out _));
        Assert.Null(guard.Begin(null, "s", out _));
        var trip = guard.Begin(null, "s", out _);
        var again = guard.Begin(null, "s", out _);

        Assert.Equal(new LoopGuardTrip(LoopGuardLimit.Steps, "s", 3, 2), trip);
        Assert.Equal(new LoopGuardTrip(LoopGuardLimit.Steps, "s", 3, 2), again); // a refused step is not counted
        Assert.Null(guard.Begin(null, "other", out _));
        Assert.Null(guard.Begin("key-b", "s", out _)); // another key's session of the same name
    }

    [Fact]
    public void Spend_within_the_window_trips_until_it_leaves_the_window()
    {
        var guard = Guard(o =>
        {
            o.MaxSpendPerWindow = 0.0003m;
            o.SpendWindow = TimeSpan.FromMinutes(1);
        });

        Assert.Null(guard.Begin("k", "burst", out var session));
        guard.AddSpend(session, 0.000184m);
        Assert.Null(guard.Begin("k", "burst", out _));
        guard.AddSpend("k", "burst", 0.000184m); // the proxy's way: by key and session
        var trip = guard.Begin("k", "burst", out _);
        _time.Advance(TimeSpan.FromMinutes(1)); // both entries are exactly one window old now: out of it
        var later = guard.Begin("k", "burst", out _);

        // 0.000184 + 0.000184 = 0.000368 ≥ 0.0003.
        Assert.Equal(new LoopGuardTrip(LoopGuardLimit.SpendVelocity, "burst", 0.000368m, 0.0003m), trip);
        Assert.Null(later);
    }

    [Fact]
    public void The_sessions_total_spend_trips_whatever_the_time()
    {
        var guard = Guard(o => o.MaxSpendPerSession = 0.001m);

        Assert.Null(guard.Begin(null, "s", out var session));
        guard.AddSpend(session, 0.0006m);
        _time.Advance(TimeSpan.FromMinutes(10));
        Assert.Null(guard.Begin(null, "s", out _));
        guard.AddSpend(session, 0.0004m);
        _time.Advance(TimeSpan.FromMinutes(10));

        // 0.0006 + 0.0004 = 0.001 ≥ 0.001.
        Assert.Equal(new LoopGuardTrip(LoopGuardLimit.Spend, "s", 0.001m, 0.001m), guard.Begin(null, "s", out _));
    }

    [Fact]
    public void A_repeated_call_the_request_carries_trips_at_the_limit()
    {
        var guard = Guard(o => o.MaxRepeatedToolCalls = 3);

        Assert.Null(guard.Begin(null, "s", out _, (2, "get_weather")));
        Assert.Equal(new LoopGuardTrip(LoopGuardLimit.RepeatedToolCall, "s", 3, 3, "get_weather"), guard.Begin(null, "s", out _, (3, "get_weather")));
    }

    [Fact]
    public void Repeated_calls_in_responses_are_counted_over_the_session()
    {
        var guard = Guard(o => o.MaxRepeatedToolCalls = 3);
        Assert.Null(guard.Begin(null, "s", out var session));

        Assert.Null(guard.CountToolCalls(session, [("A", "lookup"), ("B", "search")]));
        Assert.Null(guard.CountToolCalls(session, [("A", "lookup")]));
        var trip = guard.CountToolCalls(session, [("B", "search"), ("A", "lookup")]);

        Assert.Equal(new LoopGuardTrip(LoopGuardLimit.RepeatedToolCall, "s", 3, 3, "lookup"), trip);
    }

    [Fact]
    public void Idle_sessions_are_forgotten()
    {
        var guard = Guard(o =>
        {
            o.MaxStepsPerSession = 1;
            o.SessionIdleTimeout = TimeSpan.FromMinutes(4);
        });
        Assert.Null(guard.Begin(null, "old", out _));
        Assert.NotNull(guard.Begin(null, "old", out _));

        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Null(guard.Begin(null, "new", out _));

        Assert.Equal(1, guard.SessionCount);
        Assert.Null(guard.Begin(null, "old", out _)); // forgotten: it starts again
    }

    [Fact]
    public void Without_limits_it_is_off_and_calls_without_a_session_are_guarded_only_when_asked()
    {
        Assert.False(Guard(_ => { }).Enabled);
        Assert.True(Guard(o => o.MaxSpendPerSession = 1m).Enabled);

        Assert.Null(Guard(o => o.MaxStepsPerSession = 1).SessionOf(null));
        Assert.Equal("(no session)", Guard(o => o.GuardCallsWithoutSession = true).SessionOf(null));
        Assert.Equal("s", Guard(o => o.GuardCallsWithoutSession = true).SessionOf("s"));
    }

    [Fact]
    public void Out_of_range_limits_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Guard(o => o.MaxStepsPerSession = 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Guard(o => o.MaxSpendPerWindow = 0m));
        Assert.Throws<ArgumentOutOfRangeException>(() => Guard(o => o.SpendWindow = TimeSpan.Zero));
    }
}
