using ModelMix.Pipeline;
using ModelMix.Routing;

namespace ModelMix.Tests.Fallback;

/// <summary>The fallback chain's door-neutral core (<see cref="FallbackChain"/>), used by the library stage and the proxy alike.</summary>
public sealed class FallbackChainTests
{
    // TestPrices.Tiers4x: haiku → claude-haiku-4-5 ($1/$5), sonnet → claude-sonnet-4-6 ($3/$15), opus → claude-opus-4-6 ($5/$25).
    private const string Opus = "claude-opus-4-6";
    private const string Sonnet = "claude-sonnet-4-6";
    private const string Haiku = "claude-haiku-4-5-20251001"; // the canonical (dated) id of the claude-haiku-4-5 alias

    private static readonly RoutingRequest AnyRequest = default;

    private static FallbackChain Chain(params string[] chain) => Chain(chain, null);

    private static FallbackChain Chain(string[] chain, string? longContext)
    {
        var result = FallbackChain.Create(chain, longContext, TestPrices.Tiers4x, null, "ModelMix:Fallback", out var problems);
        Assert.Empty(problems);
        return result;
    }

    private static HashSet<string> Tried(params string[] models) => new(models, StringComparer.Ordinal);

    [Fact]
    public void Tiers_resolve_to_their_models()
    {
        var chain = Chain("opus", "sonnet", "claude-haiku-4-5"); // an alias is compared by its canonical id

        Assert.Equal([Opus, Sonnet, Haiku], chain.Entries.Select(e => e.Key));
    }

    [Fact]
    public void Every_bad_entry_is_named_by_its_key()
    {
        FallbackChain.Create(["opus", "gpt-9", "claude-opus-4-6"], "tiny", TestPrices.Tiers4x, null, "ModelMix:Fallback", out var problems);

        Assert.Equal(3, problems.Count);
        Assert.StartsWith("'ModelMix:Fallback:Chain:1' is 'gpt-9', neither a tier", problems[0], StringComparison.Ordinal);
        Assert.Equal("'ModelMix:Fallback:Chain:2' lists claude-opus-4-6 twice.", problems[1]);
        Assert.StartsWith("'ModelMix:Fallback:LongContextModel' is 'tiny'", problems[2], StringComparison.Ordinal);
    }

    [Fact]
    public void The_next_model_is_the_next_untried_entry_and_a_model_outside_the_chain_starts_at_its_first()
    {
        var chain = Chain("opus", "sonnet", "haiku");

        Assert.Equal(Sonnet, chain.Next(Opus, Tried(Opus), AnyRequest)?.Key);
        Assert.Equal(Haiku, chain.Next(Opus, Tried(Opus, Sonnet), AnyRequest)?.Key);
        Assert.Null(chain.Next(Haiku, Tried(Haiku), AnyRequest));
        Assert.Equal(Opus, chain.Next("claude-sonnet-4-5", Tried("claude-sonnet-4-5"), AnyRequest)?.Key);
        Assert.Equal(Opus, chain.Next(null, Tried(), AnyRequest)?.Key);
    }

    [Fact]
    public void A_chain_entry_that_would_refuse_the_request_stands_for_its_fit()
    {
        // Issue 19: every fallback and cooldown substitute is taken through Next. On the 5.x catalog Claude Opus 5.5
        // rejects forced tool use and its catalog substitute, Claude Opus 5, accepts it (docs/models.md); the same
        // chain without forced tool use keeps Opus 5.5.
        var prices = ModelMix.Pricing.PriceBook.Default;
        var chain = FallbackChain.Create(["claude-opus-5-5", "claude-haiku-5-5"], null, prices, new ModelMix.Catalog.ModelFit(prices), "ModelMix:Fallback", out var problems);
        Assert.Empty(problems);
        var forced = new RoutingRequest { Traits = new ModelMix.Catalog.RequestTraits { ToolChoice = ModelMix.Catalog.ToolChoiceMode.Any } };

        Assert.Equal("claude-opus-5", chain.Next("claude-sonnet-5-5", Tried("claude-sonnet-5-5"), forced)?.Model);
        Assert.Equal("claude-opus-5-5", chain.Next("claude-sonnet-5-5", Tried("claude-sonnet-5-5"), AnyRequest)?.Model);
    }

    [Fact]
    public void With_a_budget_held_no_dearer_model_is_taken()
    {
        var chain = Chain("opus", "haiku");

        // From Sonnet 4.6 ($3/$15): Opus 4.6 ($5/$25) is dearer and passed over; Haiku 4.5 ($1/$5) is not.
        var next = chain.Next(Sonnet, Tried(Sonnet), AnyRequest, noDearerThan: Sonnet, at: DateTimeOffset.UtcNow);

        Assert.Equal(Haiku, next?.Key);
    }

    [Fact]
    public void A_long_prompt_goes_to_the_long_context_model_once()
    {
        var chain = Chain(["sonnet"], "opus");

        Assert.Equal(Opus, chain.NextForLongPrompt(Tried(Sonnet), AnyRequest)?.Key);
        Assert.Null(chain.NextForLongPrompt(Tried(Sonnet, Opus), AnyRequest));
        Assert.Null(Chain("sonnet").NextForLongPrompt(Tried(Sonnet), AnyRequest));
    }

    [Theory]
    [InlineData(true, null, 20, true)]
    [InlineData(true, 20, 20, true)]
    [InlineData(true, 21, 20, false)] // a longer wait than allowed moves on along the chain at once
    [InlineData(false, null, 20, false)]
    public void A_failure_is_retried_when_retryable_and_its_wait_is_short_enough(bool retryable, int? retryAfterSeconds, int longestSeconds, bool expected)
    {
        var retryAfter = retryAfterSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;

        Assert.Equal(expected, FallbackChain.ShouldRetry(retryable, retryAfter, TimeSpan.FromSeconds(longestSeconds)));
    }
}
