using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Routing;

public sealed class PinnedPolicyTests
{
    private static readonly PriceBook s_book = PriceBook.Default;

    [Fact]
    public void Pin_resolves_tiers_and_aliases_to_canonical_ids()
    {
        var policy = new PinnedPolicy(
            new Dictionary<string, string> { ["fraud-check"] = "opus", ["autocomplete"] = "claude-haiku-4-5" }, s_book);

        Assert.Equal(s_book.ResolveTier("opus"), policy.Pins["fraud-check"]);
        Assert.Equal(s_book.ResolveId("claude-haiku-4-5"), policy.Pins["AUTOCOMPLETE"]);
    }

    [Fact]
    public void Pin_decides_with_full_confidence_and_a_reason_naming_the_pin()
    {
        var policy = new PinnedPolicy(new Dictionary<string, string> { ["fraud-check"] = "opus" }, s_book);

        Assert.True(policy.TryDecide(Prompts.Request("Is this transfer suspicious?", taskLabel: "Fraud-Check"), out var decision));

        Assert.Equal(s_book.ResolveTier("opus"), decision.Model);
        Assert.Equal(1.0, decision.Confidence);
        Assert.Equal("pinned", decision.Policy);
        Assert.Equal($"pin 'fraud-check': task label 'fraud-check' is pinned → opus ({decision.Model})", decision.Reason);
    }

    [Fact]
    public void Request_without_a_pinned_label_is_not_decided()
    {
        var policy = new PinnedPolicy(new Dictionary<string, string> { ["fraud-check"] = "opus" }, s_book);

        Assert.False(policy.TryDecide(Prompts.Request(Prompts.ChitChat), out _));
        Assert.False(policy.TryDecide(Prompts.Request(Prompts.ChitChat, taskLabel: "classification"), out _));
    }

    [Fact]
    public async Task Pin_decides_the_same_through_the_async_path()
    {
        var policy = new PinnedPolicy(new Dictionary<string, string> { ["autocomplete"] = "haiku" }, s_book);

        var decision = await policy.DecideAsync(Prompts.Request("def fib(n):", taskLabel: "autocomplete"));
        var none = await policy.DecideAsync(Prompts.Request("def fib(n):"));

        Assert.Equal(s_book.ResolveTier("haiku"), decision!.Value.Model);
        Assert.Null(none);
    }

    [Fact]
    public void Unknown_model_fails_at_construction_naming_the_pin()
    {
        var ex = Assert.Throws<RoutingConfigurationException>(() =>
            new PinnedPolicy(new Dictionary<string, string> { ["fraud-check"] = "claude-opus-9" }, s_book));

        Assert.Contains("pin 'fraud-check'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'claude-opus-9'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Labels_that_differ_only_in_case_are_rejected()
    {
        var ex = Assert.Throws<RoutingConfigurationException>(() => new PinnedPolicy(
            [new("Fraud", "opus"), new("fraud", "haiku")], s_book));

        Assert.Contains("pin 'fraud'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pinned_decision_allocates_nothing()
    {
        var policy = new PinnedPolicy(new Dictionary<string, string> { ["fraud-check"] = "opus" }, s_book);
        var request = Prompts.Request("Is this transfer suspicious?", taskLabel: "fraud-check");
        for (var i = 0; i < 100; i++)
        {
            policy.TryDecide(request, out _);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var hits = 0;
        for (var i = 0; i < 1000; i++)
        {
            hits += policy.TryDecide(request, out _) ? 1 : 0;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1000, hits);
    }
}
