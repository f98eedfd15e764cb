using System.Diagnostics.Metrics;
using Microsoft.Extensions.AI;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Cascade;

public sealed class MetaRouterPolicyTests
{
    private readonly TierScriptedClient _classifier = new();

    private MetaRouterPolicy Policy(Action<MetaRouterOptions>? configure = null)
    {
        var options = new MetaRouterOptions();
        configure?.Invoke(options);
        return new MetaRouterPolicy(_classifier, PriceBook.Default, options);
    }

    [Fact]
    public async Task Meta_router_routes_to_the_tier_it_was_told()
    {
        _classifier.Answer("{\"tier\":\"opus\",\"reason\":\"security review of auth code\"}");
        var policy = Policy();

        var decision = await policy.DecideAsync(RoutingRequest.ForPrompt("Review this OAuth flow for vulnerabilities", "review") with { SessionId = "s1" }, "req-9");

        // The default catalog's tiers but fable (never a default choice): haiku → claude-haiku-5-5, sonnet → claude-sonnet-5-5, opus → claude-opus-5-5.
        Assert.Equal(new RoutingDecision("claude-opus-5-5", "meta-router → opus (claude-opus-5-5): security review of auth code", 0.7, "meta"), decision);
        Assert.Equal(1, policy.Statistics.Classified);
        var (messages, options) = Assert.Single(_classifier.Calls);
        Assert.Equal("claude-haiku-5-5", options!.ModelId);
        Assert.IsType<ChatResponseFormatJson>(options.ResponseFormat);
        Assert.Contains("\"enum\":[\"haiku\",\"sonnet\",\"opus\"]", ((ChatResponseFormatJson)options.ResponseFormat).Schema!.Value.GetRawText().Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal("req-9", options.GetRequestId());
        Assert.Equal(0, options.GetAttempt());
        Assert.Equal("meta", options.GetPolicy());
        Assert.Equal("meta-router classification on haiku (claude-haiku-5-5)", options.GetRoutingReason());
        Assert.Equal("review", options.GetTaskLabel());
        Assert.Equal("s1", options.GetSessionId());
        Assert.Equal(ChatRole.System, messages[0].Role);
        Assert.Contains("Review this OAuth flow", messages[1].Text, StringComparison.Ordinal);
        Assert.Contains("Task label: review", messages[1].Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("I'd pick sonnet.", "not JSON")]
    [InlineData("{\"tier\":\"gpt-5\",\"reason\":\"x\"}", "unknown tier 'gpt-5'")]
    [InlineData("", "empty answer")]
    public async Task A_malformed_classification_falls_back_and_is_counted(string answer, string why)
    {
        _classifier.Answer(answer);
        var policy = Policy();

        var decision = await policy.DecideAsync(RoutingRequest.ForPrompt("Summarise this"));

        Assert.NotNull(decision);
        Assert.Equal("claude-sonnet-5-5", decision.Value.Model);
        Assert.Equal(0.5, decision.Value.Confidence);
        Assert.StartsWith("meta-router: malformed classification (", decision.Value.Reason, StringComparison.Ordinal);
        Assert.Contains(why, decision.Value.Reason, StringComparison.Ordinal);
        Assert.EndsWith("→ fallback sonnet (claude-sonnet-5-5)", decision.Value.Reason, StringComparison.Ordinal);
        Assert.Equal(1, policy.Statistics.Malformed);
        Assert.Equal(0, policy.Statistics.Classified);
    }

    [Fact]
    public async Task The_malformed_counter_is_published_as_a_metric()
    {
        long counted = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MetaRouterStatistics.MeterName && instrument.Name == MetaRouterStatistics.MalformedCounterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        var policy = Policy(o => o.Name = "meta-metric-test");
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "modelmix.policy" && Equals(tag.Value, "meta-metric-test"))
                {
                    Interlocked.Add(ref counted, value);
                }
            }
        });
        listener.Start();
        _classifier.Answer("nonsense");

        await policy.DecideAsync(RoutingRequest.ForPrompt("x"));

        Assert.Equal(1, Interlocked.Read(ref counted));
    }

    [Fact]
    public async Task Without_a_default_tier_a_malformed_classification_declines()
    {
        _classifier.Answer("nonsense");
        var policy = Policy(o => o.DefaultTier = null);
        var chain = new CompositePolicy(policy, new DefaultPolicy("haiku", PriceBook.Default));

        var decision = await chain.DecideAsync(RoutingRequest.ForPrompt("x"));

        Assert.Equal("default", decision!.Value.Policy);
        Assert.Equal(1, policy.Statistics.Malformed);
    }

    [Fact]
    public async Task A_failed_classifier_call_falls_back()
    {
        _classifier.Throw = (1, new HttpRequestException("connection refused"));
        var policy = Policy(o => o.DefaultTier = "opus");

        var decision = await policy.DecideAsync(RoutingRequest.ForPrompt("x"));

        Assert.Equal("claude-opus-5-5", decision!.Value.Model);
        Assert.Equal("meta-router: classifier call failed (HttpRequestException) → fallback opus (claude-opus-5-5)", decision.Value.Reason);
        Assert.Equal(1, policy.Statistics.Failed);
    }

    [Fact]
    public async Task A_failed_classifier_call_can_be_let_through()
    {
        _classifier.Throw = (1, new HttpRequestException("connection refused"));
        var policy = Policy(o => o.FallBackOnClassifierError = false);

        await Assert.ThrowsAsync<HttpRequestException>(async () => await policy.DecideAsync(RoutingRequest.ForPrompt("x")));
    }

    [Fact]
    public async Task The_caller_cancelling_is_not_a_fallback()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await Policy().DecideAsync(RoutingRequest.ForPrompt("x"), cancelled.Token));
        Assert.Empty(_classifier.Calls);
    }

    [Fact]
    public async Task Configured_tiers_limit_the_choice_and_long_prompts_are_clipped()
    {
        _classifier.Answer("{\"tier\":\"opus\",\"reason\":\"x\"}");
        var policy = Policy(o =>
        {
            o.Tiers = ["haiku", "sonnet"];
            o.MaxPromptChars = 10;
        });

        var decision = await policy.DecideAsync(RoutingRequest.ForPrompt(new string('a', 100)));

        Assert.Equal("claude-sonnet-5-5", decision!.Value.Model);
        Assert.Contains("unknown tier 'opus'", decision.Value.Reason, StringComparison.Ordinal);
        Assert.Contains("aaaaaaaaaa […truncated]", _classifier.Calls[0].Messages[1].Text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_classification_worst_case_covers_the_full_answer_and_stops_growing_past_the_clipped_prompt()
    {
        var policy = Policy(o => o.MaxPromptChars = 1000);
        var at = new DateTimeOffset(2026, 11, 10, 0, 0, 0, TimeSpan.Zero); // every default tier model is priced by then (claude-haiku-5-5 from 2026-10-07)
        var haiku = PriceBook.Default.GetPrice(policy.ClassifierModel, at);

        var small = policy.ClassificationWorstCaseUsd(PriceBook.Default, RoutingRequest.ForPrompt("hi"), at);
        var clipped = policy.ClassificationWorstCaseUsd(PriceBook.Default, RoutingRequest.ForPrompt(new string('a', 1000)), at);
        var huge = policy.ClassificationWorstCaseUsd(PriceBook.Default, RoutingRequest.ForPrompt(new string('a', 100_000)), at);

        Assert.True(small > 200 * haiku.Output / 1_000_000m, "the 200-token answer alone");
        Assert.Equal(998m * haiku.Input / 1_000_000m / 4m, clipped - small, 6); // 998 more prompt characters, one token per 4 bytes
        Assert.True(huge - clipped <= 8 * haiku.Input / 1_000_000m, "past MaxPromptChars only the truncation mark is added");
        Assert.Equal(["claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"], policy.Models); // fable only when configured
    }

    [Fact]
    public async Task A_configured_tier_with_an_effort_lets_the_classifier_choose_the_effort()
    {
        _classifier.Answer("{\"tier\":\"opus@low\",\"reason\":\"simple question about architecture\"}");
        var policy = Policy(options => options.Tiers = ["haiku", "opus@low", "opus"]);

        var decision = await policy.DecideAsync(RoutingRequest.ForPrompt("What is a load balancer?"), "req-1");

        Assert.Equal("claude-opus-5-5", decision!.Value.Model);
        Assert.Equal(ModelMix.Catalog.EffortLevel.Low, decision.Value.Effort);
        Assert.Equal("meta-router → opus@low (claude-opus-5-5): simple question about architecture", decision.Value.Reason);
        Assert.Contains("\"enum\":[\"haiku\",\"opus@low\",\"opus\"]", ((ChatResponseFormatJson)_classifier.Calls[0].Options!.ResponseFormat!).Schema!.Value.GetRawText().Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_configuration_names_every_key()
    {
        var exception = Assert.Throws<RoutingConfigurationException>(() => Policy(o =>
        {
            o.Tiers = ["haiku", "gpt-9"];
            o.DefaultTier = "mystery";
            o.ClassifiedConfidence = 2;
        }));

        Assert.Contains("MetaRouter:Tiers 'gpt-9'", exception.Message, StringComparison.Ordinal);
        Assert.Contains("MetaRouter:DefaultTier 'mystery'", exception.Message, StringComparison.Ordinal);
        Assert.Contains("MetaRouter:ClassifiedConfidence", exception.Message, StringComparison.Ordinal);
    }
}
