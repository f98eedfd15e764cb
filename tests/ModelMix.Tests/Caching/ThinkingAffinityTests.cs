using Microsoft.Extensions.Time.Testing;
using ModelMix.Caching;
using ModelMix.Catalog;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Caching;

/// <summary>
/// Thinking-aware routing without prompt caching (<see cref="ThinkingAffinity"/>): the session's last thinking model is
/// kept when the policy moves a conversation carrying thinking blocks to a cheaper model that cannot read them. From the
/// embedded catalog: Opus 5.5 $4 / MTok input, Sonnet 5.5 $2, Haiku 5.5 $0.10; each reads only its own blocks.
/// </summary>
public sealed class ThinkingAffinityTests
{
    private const string Opus = "claude-opus-5-5";
    private const string Sonnet = "claude-sonnet-5-5";
    private const string Haiku = "claude-haiku-5-5";

    private static ThinkingAffinity OnOpus(string? keyId = null)
    {
        var affinity = new ThinkingAffinity(PriceBook.Default, new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero)));
        affinity.Observe(keyId, "s1", Opus, thought: true);
        return affinity;
    }

    private static RoutingRequest Turn(bool carriesThinking = true, string? session = "s1", string? keyId = null) => new()
    {
        SessionId = session,
        KeyId = keyId,
        EstimatedInputTokens = 3_000,
        Traits = new RequestTraits { CarriesThinking = carriesThinking, Thinking = ThinkingMode.Adaptive },
    };

    [Fact]
    public void A_cheaper_rule_decision_stays_on_the_thinking_model_at_low_effort()
    {
        var decision = OnOpus().Adjust(new RoutingDecision(Sonnet, "rule 'otherwise-sonnet'", 0.5, "rules"), Turn());

        Assert.Equal((Opus, ThinkingAffinity.PolicyName, EffortLevel.Low), (decision.Model, decision.Policy, decision.Effort));
        Assert.Equal(
            "thinking-kept on claude-opus-5-5: claude-sonnet-5-5 cannot read the thinking blocks claude-opus-5-5 made in this conversation (the API would drop them and the model would think again); at low effort, since the policy judged the turn easy enough for claude-sonnet-5-5; the policy said: rule 'otherwise-sonnet'",
            decision.Reason);
    }

    [Fact]
    public void A_callers_effort_is_kept()
    {
        var turn = Turn() with { Traits = Turn().Traits with { Effort = EffortLevel.High } };

        var decision = OnOpus().Adjust(new RoutingDecision(Haiku, "rule", 0.5, "rules"), turn);

        Assert.Equal((Opus, EffortLevel.Unspecified), (decision.Model, decision.Effort));
    }

    [Fact]
    public void A_pin_moves_the_conversation_and_says_the_blocks_are_dropped()
    {
        var pin = new RoutingDecision(Haiku, "pin 'quick'", 1.0, PinnedPolicy.DefaultName);

        var decision = OnOpus().Adjust(pin, Turn());

        Assert.Equal((Haiku, PinnedPolicy.DefaultName), (decision.Model, decision.Policy));
        Assert.EndsWith("; claude-haiku-5-5 cannot read the thinking blocks claude-opus-5-5 made in this conversation, so the API drops them and it thinks again (a pin moves it anyway)", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_escalation_to_a_dearer_model_is_taken()
    {
        var affinity = new ThinkingAffinity(PriceBook.Default);
        affinity.Observe(null, "s1", Haiku, thought: true);

        var decision = affinity.Adjust(new RoutingDecision(Opus, "rule 'hard'", 0.9, "rules"), Turn());

        Assert.Equal(Opus, decision.Model);
        Assert.Contains("(the policy escalated to a dearer model: $4 vs $0.1 per MTok input)", decision.Reason, StringComparison.Ordinal); // input rates from the catalog
    }

    [Theory]
    [InlineData(false, "s1", null)] // no thinking blocks carried
    [InlineData(true, null, null)] // no session
    [InlineData(true, "s2", null)] // another session
    [InlineData(true, "s1", "key-b")] // the same session name under another key
    public void Nothing_changes_without_carried_blocks_from_a_known_session(bool carries, string? session, string? keyId)
    {
        var rule = new RoutingDecision(Haiku, "rule", 0.5, "rules");

        Assert.Equal(rule, OnOpus().Adjust(rule, Turn(carries, session, keyId)));
    }

    [Fact]
    public void A_model_that_reads_the_blocks_is_taken_as_decided()
    {
        var affinity = new ThinkingAffinity(PriceBook.Default);
        affinity.Observe(null, "s1", "claude-opus-5", thought: true); // Fable 5.1 reads Opus 5 blocks (readsFrom)
        var rule = new RoutingDecision("claude-fable-5-1", "rule", 0.5, "rules");

        Assert.Equal(rule, affinity.Adjust(rule, Turn()));
    }

    [Fact]
    public void An_answer_that_did_not_think_keeps_the_earlier_thinking_model_and_the_oldest_sessions_are_forgotten()
    {
        var affinity = new ThinkingAffinity(PriceBook.Default, capacity: 2);
        affinity.Observe(null, "s1", Opus, thought: true);
        affinity.Observe(null, "s1", Haiku, thought: false);
        Assert.Equal(Opus, affinity.ThinkingModelOf("s1"));

        affinity.Observe(null, "s2", Sonnet, thought: true);
        affinity.Observe(null, "s3", Sonnet, thought: true);

        Assert.Null(affinity.ThinkingModelOf("s1"));
        Assert.Equal(Sonnet, affinity.ThinkingModelOf("s3"));
    }

    [Fact]
    public void Thinks_follows_the_request_and_the_models_default()
    {
        var affinity = new ThinkingAffinity(PriceBook.Default);

        Assert.Equal(
            (true, false, true, false),
            (affinity.Thinks(Haiku, new RequestTraits { Thinking = ThinkingMode.Adaptive }),
             affinity.Thinks(Opus, new RequestTraits { Thinking = ThinkingMode.Disabled }),
             affinity.Thinks(Opus, default), // Claude 5.x thinks by default
             affinity.Thinks("claude-haiku-4-5", default)));
    }
}
