using Microsoft.Extensions.Time.Testing;
using ModelMix.Caching;
using ModelMix.Catalog;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Caching;

/// <summary>
/// Thinking-aware routing: a conversation carrying thinking blocks counts the reasoning a switch would drop. Costs worked
/// by hand from the embedded catalog (USD per million tokens): Opus 5.5 $4 in / $20 out / $0.20 cache read; Sonnet 5.5
/// $2 / $10 / 5-minute cache write $2.50; Sonnet 5.5 reads only its own thinking blocks.
/// </summary>
public sealed class ThinkingAwareRoutingTests
{
    private const string Opus = "claude-opus-5-5";
    private const string Sonnet = "claude-sonnet-5-5";
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static async Task<CacheAwareRouting> WarmOnOpusAsync()
    {
        var routing = new CacheAwareRouting(PriceBook.Default, new InMemoryPromptCacheWarmStore(), time: new FakeTimeProvider(Now));
        await routing.ObserveAsync("s1", Opus, new TokenUsage(30, 500, CacheWrite5mTokens: 3_000));
        return routing;
    }

    private static RoutingRequest Turn(bool carriesThinking) => new()
    {
        SessionId = "s1",
        EstimatedInputTokens = 3_030,
        MaxTokens = 4_096, // the estimate assumes 1,024 output tokens
        Traits = new RequestTraits { CarriesThinking = carriesThinking },
    };

    private static RoutingDecision ToSonnet => new(Sonnet, "rule 'otherwise-sonnet'", 0.5, "rules");

    [Fact]
    public async Task Without_thinking_blocks_the_cheaper_model_wins_despite_the_cache()
    {
        var routing = await WarmOnOpusAsync();

        var decision = await routing.AdjustAsync(ToSonnet, Turn(carriesThinking: false));

        // stay on Opus: 30 × $4 + 1,024 × $20 + 3,000 × $0.20 = $0.0212; switch: 30 × $2 + 3,000 × $2.50 + 1,024 × $10 = $0.0178.
        Assert.Equal(Sonnet, decision.Model);
        Assert.EndsWith("switching from cache-warm claude-opus-5-5 (~3,000 tokens) still saves est. $0.0034", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Thinking_blocks_the_chosen_model_cannot_read_keep_the_conversation_on_the_strong_model_at_low_effort()
    {
        var routing = await WarmOnOpusAsync();

        var decision = await routing.AdjustAsync(ToSonnet, Turn(carriesThinking: true));

        // Sonnet 5.5 cannot read Opus 5.5's thinking: it would think again, est. 1,024 × $10 = $0.01024, so switching costs
        // $0.0178 + $0.01024 − $0.0212 = $0.00684 more. The policy wanted the cheaper model, so Opus stays at low effort.
        Assert.Equal(Opus, decision.Model);
        Assert.Equal(EffortLevel.Low, decision.Effort);
        Assert.Equal(CacheAwareRouting.PolicyName, decision.Policy);
        Assert.Equal(
            "cache-warm on claude-opus-5-5 (~3,000 tokens cached, and claude-sonnet-5-5 cannot read its thinking blocks (est. $0.01024 to think again)): switching to claude-sonnet-5-5 would cost $0.00684 more (est. $0.0212 vs $0.02804); at low effort, since the policy judged the turn easy enough for claude-sonnet-5-5; the policy said: rule 'otherwise-sonnet'",
            decision.Reason);
    }

    [Fact]
    public async Task A_caller_effort_is_kept_when_staying()
    {
        var routing = await WarmOnOpusAsync();
        var request = Turn(carriesThinking: true) with { Traits = new RequestTraits { CarriesThinking = true, Effort = EffortLevel.High } };

        var decision = await routing.AdjustAsync(ToSonnet, request);

        Assert.Equal((Opus, EffortLevel.Unspecified), (decision.Model, decision.Effort));
    }

    [Theory]
    [InlineData("claude-fable-5-1", "claude-opus-5-5", true)]
    [InlineData("claude-opus-5-5", "claude-fable-5-1", false)]
    [InlineData("claude-sonnet-5-5", "claude-sonnet-5-5", true)]
    [InlineData("claude-haiku-5-5", "claude-opus-5-5", false)]
    [InlineData("claude-opus-4-6", "claude-opus-5-5", true)]
    public void Which_models_read_whose_thinking(string reader, string producer, bool readable) =>
        Assert.Equal(readable, new CacheAwareRouting(PriceBook.Default, new InMemoryPromptCacheWarmStore()).CanReadThinking(reader, producer));
}
