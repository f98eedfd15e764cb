using ModelMix.Catalog;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Catalog;

/// <summary>Routing moves a decision off a model that would reject the request, to the first that accepts it.</summary>
public sealed class ModelFitTests
{
    private static readonly ModelFit Fit = new(PriceBook.Default, new FixedTime(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero)));

    [Fact]
    public void A_model_that_accepts_the_request_keeps_the_decision_as_it_was()
    {
        var decision = new RoutingDecision("claude-opus-5-5", "rule 'opus-keywords'", 0.7, "rules");

        var fitted = Fit.Fit(decision, new RoutingRequest { Traits = new RequestTraits { Effort = EffortLevel.Low } });

        Assert.Equal(decision, fitted);
    }

    [Fact]
    public void Forced_tool_use_on_opus_5_5_moves_to_its_substitute_and_the_reason_says_why()
    {
        var decision = new RoutingDecision("claude-opus-5-5", "rule 'opus-keywords'", 0.7, "rules");

        var fitted = Fit.Fit(decision, new RoutingRequest { Traits = new RequestTraits { ToolChoice = ToolChoiceMode.Any } });

        Assert.Equal("claude-opus-5", fitted.Model);
        Assert.Equal("rule 'opus-keywords'; claude-opus-5-5 skipped (rejects forced tool use (tool_choice any/tool)) → claude-opus-5", fitted.Reason);
        Assert.Equal("rules", fitted.Policy);
        Assert.Equal(0.7, fitted.Confidence);
    }

    [Fact]
    public void A_substitute_that_rejects_too_is_passed_over()
    {
        // Sonnet 5.5 rejects forced tool use; its substitute Sonnet 5 accepts it but rejects sampling; Sonnet 4.6 takes both.
        var request = new RoutingRequest { Traits = new RequestTraits { ToolChoice = ToolChoiceMode.Tool, NonDefaultSampling = true } };

        var fitted = Fit.Fit(new RoutingDecision("claude-sonnet-5-5", "catch-all", 0.5, "rules"), request);

        Assert.Equal("claude-sonnet-4-6", fitted.Model);
    }

    [Fact]
    public void Retired_models_and_excluded_models_are_never_substitutes()
    {
        var request = new RoutingRequest { Traits = new RequestTraits { NonDefaultSampling = true, AssistantPrefill = true } };

        var first = Fit.Substitute("claude-haiku-5-5", request, exclude: null);
        var second = Fit.Substitute("claude-haiku-5-5", request, new HashSet<string> { first! });

        Assert.Equal("claude-haiku-4-5-20251001", first);
        Assert.NotEqual("claude-sonnet-4-5-20250929", second); // retired on 2026-11-30
        Assert.NotNull(second);
        Assert.Equal(RuleViolation.None, Fit.Check(second!, request));
    }

    [Fact]
    public void When_no_model_accepts_the_request_the_decision_stays_and_the_reason_says_so()
    {
        var book = PriceBook.Parse("""
            {"replaceDefaults": true, "tiers": {"opus": "big", "haiku": "small"}, "models": [
              {"id": "big", "family": "opus", "contextWindow": 1000000, "periods": [{"effectiveFrom": "2026-01-01", "input": 4, "output": 20}], "rules": {"forcedToolUse": false}},
              {"id": "small", "family": "haiku", "contextWindow": 200000, "periods": [{"effectiveFrom": "2026-01-01", "input": 1, "output": 5}]}]}
            """, "test.json");
        var fit = new ModelFit(book);
        var request = new RoutingRequest { Traits = new RequestTraits { ToolChoice = ToolChoiceMode.Any }, EstimatedInputTokens = 300_000 };

        var fitted = fit.Fit(new RoutingDecision("big", "pin", 1, "pins"), request);

        Assert.Equal("big", fitted.Model);
        Assert.Equal("pin; big rejects forced tool use (tool_choice any/tool), and no model in the catalog accepts the request as it is", fitted.Reason);
    }

    [Fact]
    public void A_model_the_catalog_does_not_know_is_not_judged() =>
        Assert.Equal(RuleViolation.None, Fit.Check("claude-future-9", new RoutingRequest { Traits = new RequestTraits { ToolChoice = ToolChoiceMode.Any } }));

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
