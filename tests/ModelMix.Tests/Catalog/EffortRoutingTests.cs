using ModelMix.Catalog;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Catalog;

/// <summary>A routing decision is a (model, effort) pair: pins, rules and defaults can set effort, clamped per model.</summary>
public sealed class EffortRoutingTests
{
    private static readonly PriceBook Book = PriceBook.Default;

    [Fact]
    public void A_rule_target_with_an_effort_decides_model_and_effort()
    {
        var rules = RulesPolicy.Create([new RoutingRuleOptions { Name = "cheap-opus", Target = "opus@low" }], Book);

        Assert.True(rules.TryDecide(RoutingRequest.ForPrompt("hi"), out var decision));

        Assert.Equal("claude-opus-5-5", decision.Model);
        Assert.Equal(EffortLevel.Low, decision.Effort);
        Assert.EndsWith("→ opus@low (claude-opus-5-5)", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rules_Effort_key_says_the_same_and_the_reason_shows_it()
    {
        var rules = RulesPolicy.Create([new RoutingRuleOptions { Name = "cheap-opus", Target = "opus", Effort = "low" }], Book);

        Assert.True(rules.TryDecide(RoutingRequest.ForPrompt("hi"), out var decision));

        Assert.Equal(EffortLevel.Low, decision.Effort);
        Assert.EndsWith("→ opus (claude-opus-5-5) at effort low", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Pins_and_defaults_take_an_effort_and_a_rule_without_one_keeps_the_callers()
    {
        var pinned = new PinnedPolicy(new Dictionary<string, string> { ["fraud-check"] = "opus@max" }, Book);
        Assert.True(pinned.TryDecide(RoutingRequest.ForPrompt("x", "fraud-check"), out var pin));
        Assert.Equal(EffortLevel.Max, pin.Effort);

        Assert.True(new DefaultPolicy("sonnet@medium", Book).TryDecide(RoutingRequest.ForPrompt("x"), out var fallback));
        Assert.Equal(("claude-sonnet-5-5", EffortLevel.Medium), (fallback.Model, fallback.Effort));

        Assert.True(DefaultRules.Create(Book).TryDecide(RoutingRequest.ForPrompt("x"), out var plain));
        Assert.Equal(EffortLevel.Unspecified, plain.Effort);
    }

    [Theory]
    [InlineData("opus@turbo", "names an unknown effort 'turbo'")]
    [InlineData("gpt@low", "is neither a tier")]
    public void A_bad_effort_target_is_refused_with_the_key(string target, string problem)
    {
        var error = Assert.Throws<RoutingConfigurationException>(() => RulesPolicy.Create([new RoutingRuleOptions { Name = "r", Target = target }], Book));

        Assert.Contains($"'Target' '{target}' {problem}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_Effort_key_that_contradicts_the_target_is_refused()
    {
        var error = Assert.Throws<RoutingConfigurationException>(() => RulesPolicy.Create([new RoutingRuleOptions { Name = "r", Target = "opus@low", Effort = "high" }], Book));

        Assert.Contains("'Effort' 'high' contradicts the effort in 'Target' 'opus@low'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_level_the_model_lacks_is_clamped_down_and_never_sent_to_a_model_without_effort()
    {
        var fit = new ModelFit(Book);

        // Opus 4.6 accepts low, medium, high and max but not xhigh.
        var clamped = fit.Fit(new RoutingDecision("claude-opus-4-6", "pin", 1, "pins") { Effort = EffortLevel.XHigh }, RoutingRequest.ForPrompt("x"));
        Assert.Equal(EffortLevel.High, clamped.Effort);
        Assert.EndsWith("effort xhigh → high (claude-opus-4-6 accepts no higher)", clamped.Reason, StringComparison.Ordinal);

        // Haiku 4.5 takes no effort at all.
        var none = fit.Fit(new RoutingDecision("claude-haiku-4-5", "pin", 1, "pins") { Effort = EffortLevel.Low }, RoutingRequest.ForPrompt("x"));
        Assert.Equal(("claude-haiku-4-5", EffortLevel.Unspecified), (none.Model, none.Effort));
    }

    [Fact]
    public void A_routed_effort_replaces_the_callers_in_the_check()
    {
        var fit = new ModelFit(Book);
        // The caller sent max with thinking disabled: Haiku 5.5 refuses that pair, but a rule at effort high makes it valid.
        var request = RoutingRequest.ForPrompt("x") with { Traits = new RequestTraits { Thinking = ThinkingMode.Disabled, Effort = EffortLevel.Max } };

        var withRuleEffort = fit.Fit(new RoutingDecision("claude-haiku-5-5", "rule", 0.8, "rules") { Effort = EffortLevel.High }, request);
        var withCallerEffort = fit.Fit(new RoutingDecision("claude-haiku-5-5", "rule", 0.8, "rules"), request);

        Assert.Equal("claude-haiku-5-5", withRuleEffort.Model);
        Assert.NotEqual("claude-haiku-5-5", withCallerEffort.Model);
    }
}
