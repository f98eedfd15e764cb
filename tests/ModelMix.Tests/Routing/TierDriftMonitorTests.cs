using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Pipeline;
using ModelMix.Routing;

namespace ModelMix.Tests.Agent;

public sealed class TierDriftMonitorTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 4, 1, 9, 0, 0, TimeSpan.Zero));
    private readonly List<TierDriftAlert> _exceeded = [];
    private readonly List<TierDriftAlert> _recovered = [];

    private TierDriftMonitor Monitor(Action<TierDriftOptions>? configure = null)
    {
        var options = new TierDriftOptions { WindowCalls = 10, MinCalls = 10, Hysteresis = 0.05, TimeProvider = _time };
        options.MaxShare["opus"] = 0.2;
        configure?.Invoke(options);
        var monitor = new TierDriftMonitor(options);
        monitor.TierShareExceeded += (_, alert) => _exceeded.Add(alert);
        monitor.TierShareRecovered += (_, alert) => _recovered.Add(alert);
        return monitor;
    }

    private static void Observe(TierDriftMonitor monitor, string model, int times)
    {
        for (var i = 0; i < times; i++)
        {
            monitor.Observe(model);
        }
    }

    [Fact]
    public void No_alert_while_the_window_holds_fewer_than_the_minimum_calls()
    {
        var monitor = Monitor();

        Observe(monitor, "claude-opus-4-6", 9);

        Assert.Empty(_exceeded);
        Assert.Equal(1.0, monitor.GetShares()["opus"]);
    }

    [Fact]
    public void A_tier_past_its_bound_alerts_once_per_crossing_not_on_every_call()
    {
        var monitor = Monitor();
        Observe(monitor, "claude-haiku-4-5", 7);
        Observe(monitor, "claude-opus-4-6", 3); // 30% of 10

        var alert = Assert.Single(_exceeded);
        Assert.Equal("opus", alert.Tier);
        Assert.Equal(0.3, alert.Share, 6);
        Assert.Equal(0.2, alert.Bound);
        Assert.Equal(3, alert.TierCalls);
        Assert.Equal(10, alert.WindowCalls);
        Assert.Equal(_time.GetUtcNow(), alert.At);
        Assert.Equal("opus took 30.0% of the last 10 calls (3), bound 20.0%", alert.ToString());

        Observe(monitor, "claude-opus-4-6", 5);
        Assert.Single(_exceeded);
        Assert.Equal(["opus"], monitor.ExceededTiers);
    }

    [Fact]
    public void Hysteresis_rearms_only_once_the_share_falls_below_the_bound_minus_the_margin()
    {
        var monitor = Monitor(); // window 10 calls, opus ≤ 20%, margin 5%
        Observe(monitor, "claude-haiku-4-5", 7);
        Observe(monitor, "claude-opus-4-6", 3); // [H×7 O×3]: 30%, alert
        Observe(monitor, "claude-haiku-4-5", 7); // [O×3 H×7]: 30%
        Observe(monitor, "claude-haiku-4-5", 1); // [O×2 H×8]: 20%, at the bound but above 15%
        Assert.Empty(_recovered);

        Observe(monitor, "claude-opus-4-6", 1); // [O H×8 O]: 20%, still exceeded: no second alert
        Assert.Single(_exceeded);

        Observe(monitor, "claude-haiku-4-5", 1); // [H×8 O H]: 10% ≤ 15%: recovered
        var recovered = Assert.Single(_recovered);
        Assert.Equal(0.1, recovered.Share, 6);
        Assert.Empty(monitor.ExceededTiers);

        Observe(monitor, "claude-opus-4-6", 3); // [H×6 O H O×2]: 30%, a new crossing; then 40%, no third alert
        Assert.Equal(2, _exceeded.Count);
        Assert.Equal(0.3, _exceeded[1].Share, 6);
    }

    [Fact]
    public void The_window_keeps_only_the_last_N_calls()
    {
        var monitor = Monitor(o => o.WindowCalls = 5);

        Observe(monitor, "claude-opus-4-6", 5);
        Observe(monitor, "claude-sonnet-4-6", 5);

        Assert.Equal(5, monitor.WindowCount);
        Assert.Equal(1.0, monitor.GetShares()["sonnet"]);
        Assert.False(monitor.GetShares().ContainsKey("opus"));
    }

    [Fact]
    public void A_time_window_drops_calls_older_than_its_duration()
    {
        var monitor = Monitor(o =>
        {
            o.WindowCalls = 1000;
            o.MinCalls = 4;
            o.WindowDuration = TimeSpan.FromMinutes(10);
        });
        Observe(monitor, "claude-opus-4-6", 4); // 100% opus: alert
        Assert.Single(_exceeded);

        _time.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal(0, monitor.WindowCount);
        Observe(monitor, "claude-haiku-4-5", 4);

        Assert.Equal(1.0, monitor.GetShares()["haiku"]);
        Assert.Single(_recovered);
    }

    [Theory]
    [InlineData("claude-opus-4-6", "opus")]
    [InlineData("claude-haiku-4-5-20251001", "haiku")]
    [InlineData("claude-sonnet-9-preview", "sonnet")]
    [InlineData("gpt-test", "gpt-test")]
    public void Models_map_to_tiers_through_the_price_book_then_their_names(string model, string tier) =>
        Assert.Equal(tier, Monitor().TierOf(model));

    [Fact]
    public void A_custom_tier_map_wins()
    {
        var monitor = Monitor(o => o.TierOf = m => m.StartsWith("claude-opus", StringComparison.Ordinal) ? "premium" : "standard");
        Assert.Equal("premium", monitor.TierOf("claude-opus-4-6"));
    }

    [Fact]
    public void A_throwing_handler_does_not_fail_the_observer()
    {
        var monitor = Monitor(o => o.MinCalls = 1);
        monitor.TierShareExceeded += (_, _) => throw new InvalidOperationException("pager down");

        monitor.Observe("claude-opus-4-6");

        Assert.Single(_exceeded);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void A_bound_outside_0_to_1_is_rejected(double bound)
    {
        var options = new TierDriftOptions();
        options.MaxShare["opus"] = bound;

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new TierDriftMonitor(options));
        Assert.Contains("MaxShare[opus]", error.Message);
    }

    [Fact]
    public async Task The_pipeline_stage_observes_the_model_of_each_call()
    {
        var monitor = Monitor(o => o.MinCalls = 2);
        using var chat = new ChatClientBuilder(new ScriptedAgentClient()).UseModelMixTierDrift(monitor).Build();

        await chat.GetResponseAsync("a", new ChatOptions { ModelId = "claude-opus-4-6" });
        await chat.GetResponseAsync("b"); // the inner client's default model: haiku

        Assert.Equal(0.5, monitor.GetShares()["opus"]);
        Assert.Equal(0.5, monitor.GetShares()["haiku"]);
        Assert.Single(_exceeded);
        Assert.Same(monitor, chat.GetService<TierDriftMonitor>());
    }
}
