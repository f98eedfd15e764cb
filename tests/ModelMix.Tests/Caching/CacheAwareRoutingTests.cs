using Microsoft.Extensions.Time.Testing;
using ModelMix.Caching;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Caching;

/// <summary>
/// Cache-aware routing, with expected costs worked by hand from the embedded price book (USD per million tokens):
/// Sonnet 4.6 $3 in / $15 out, read 0.1× = $0.30; Haiku 4.5 $1 / $5, minimum cacheable 4,096 tokens.
/// </summary>
public sealed class CacheAwareRoutingTests
{
    private const string Sonnet = "claude-sonnet-4-6";
    private const string Haiku = "claude-haiku-4-5-20251001";
    private static readonly DateTimeOffset Now = new(2026, 4, 1, 12, 0, 0, TimeSpan.Zero);

    private static (CacheAwareRouting Routing, FakeTimeProvider Time) Create()
    {
        var time = new FakeTimeProvider(Now);
        return (new CacheAwareRouting(PriceBook.Default, new InMemoryPromptCacheWarmStore(), time: time), time);
    }

    private static RoutingRequest Request(long maxTokens, string? session = "s1") => new()
    {
        SessionId = session,
        EstimatedInputTokens = 3_030,
        MaxTokens = maxTokens,
    };

    private static RoutingDecision ToHaiku => new(Haiku, "rule 'extraction-cheap' → haiku", 0.8, "rules");

    [Fact]
    public async Task A_warm_session_stays_when_switching_costs_more_and_the_reason_gives_the_amount()
    {
        var (routing, _) = Create();
        await routing.ObserveAsync("s1", Sonnet, new TokenUsage(30, 16, CacheWrite5mTokens: 3_000));

        var decision = await routing.AdjustAsync(ToHaiku, Request(maxTokens: 16));

        // stay: 30 × $3 + 16 × $15 + 3,000 × $0.30 = $0.00123; switch (3,000 < Haiku's 4,096: no cache there):
        // 3,030 × $1 + 16 × $5 = $0.00311 → $0.00188 more.
        Assert.Equal(Sonnet, decision.Model);
        Assert.Equal(CacheAwareRouting.PolicyName, decision.Policy);
        Assert.Equal(
            "cache-warm on claude-sonnet-4-6 (~3,000 tokens cached): switching to claude-haiku-4-5-20251001 would cost $0.00188 more (est. $0.00123 vs $0.00311); at low effort, since the policy judged the turn easy enough for claude-haiku-4-5-20251001; the policy said: rule 'extraction-cheap' → haiku",
            decision.Reason);
        // The policy wanted the cheaper model: the session keeps its cache on Sonnet, at low effort.
        Assert.Equal(ModelMix.Catalog.EffortLevel.Low, decision.Effort);
    }

    [Fact]
    public async Task The_policy_wins_when_its_gain_beats_the_cache_loss()
    {
        var (routing, _) = Create();
        await routing.ObserveAsync("s1", Sonnet, new TokenUsage(30, 16, CacheReadTokens: 3_000));

        var decision = await routing.AdjustAsync(ToHaiku, Request(maxTokens: 4_096));

        // output assumed 1,024: stay $0.01635 (90 + 15,360 + 900 µ$), switch $0.00815 (3,030 + 5,120 µ$) → saves $0.0082.
        Assert.Equal(Haiku, decision.Model);
        Assert.Equal("rules", decision.Policy);
        Assert.EndsWith("; switching from cache-warm claude-sonnet-4-6 (~3,000 tokens) still saves est. $0.0082", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_estimate_prices_rewriting_the_prefix_when_the_new_model_can_cache_it()
    {
        var (routing, _) = Create();

        var estimate = routing.Estimate(Haiku, Sonnet, prefixTokens: 5_000, inputTokens: 5_100, outputTokens: 100, Now);

        // stay on Haiku: 100 × $1 + 100 × $5 + 5,000 × $0.10 = $0.0011; switch: 100 × $3 + 100 × $15 + 5,000 × $3.75 = $0.02055.
        Assert.Equal(0.0011m, estimate.StayCost);
        Assert.Equal(0.02055m, estimate.SwitchCost);
        Assert.Equal(0.01945m, estimate.ExtraCostOfSwitching);
    }

    [Fact]
    public async Task An_escalation_to_a_stronger_model_stands_and_notes_the_cache_it_leaves()
    {
        var (routing, _) = Create();
        await routing.ObserveAsync("s1", Haiku, new TokenUsage(30, 16, CacheWrite5mTokens: 5_000));

        var decision = await routing.AdjustAsync(new RoutingDecision(Sonnet, "rule 'code' → sonnet", 0.8, "rules"), Request(maxTokens: 16));

        Assert.Equal(Sonnet, decision.Model);
        Assert.Contains("leaves the cache warm on claude-haiku-4-5-20251001 (~5,000 tokens) for a stronger model", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Expired_caches_other_sessions_and_pins_follow_the_policy()
    {
        var (routing, time) = Create();
        await routing.ObserveAsync("s1", Sonnet, new TokenUsage(30, 16, CacheWrite5mTokens: 3_000));

        Assert.Equal(Haiku, (await routing.AdjustAsync(ToHaiku, Request(16, session: "other"))).Model);
        Assert.Equal(Haiku, (await routing.AdjustAsync(ToHaiku, Request(16, session: null))).Model);
        Assert.Equal(Haiku, (await routing.AdjustAsync(ToHaiku with { Policy = PinnedPolicy.DefaultName }, Request(16))).Model);
        Assert.Equal(Sonnet, (await routing.AdjustAsync(ToHaiku, Request(16))).Model);

        time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        Assert.Equal(Haiku, (await routing.AdjustAsync(ToHaiku, Request(16))).Model);
    }

    [Fact]
    public async Task Calls_without_cache_activity_leave_no_warm_state()
    {
        var (routing, _) = Create();
        await routing.ObserveAsync("s1", Sonnet, new TokenUsage(3_030, 16));

        Assert.Null(await routing.Store.GetAsync("s1", Now));
    }
}
