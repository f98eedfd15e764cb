using ModelMix.Catalog;
using ModelMix.Pricing;

namespace ModelMix.Tests.Catalog;

/// <summary>The embedded catalog: the 5.x lineup priced from the platform pages, the tiers, and the per-model rules.</summary>
public sealed class ModelCatalogTests
{
    private static readonly PriceBook Book = PriceBook.Default;
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("haiku", "claude-haiku-5-5")]
    [InlineData("sonnet", "claude-sonnet-5-5")]
    [InlineData("opus", "claude-opus-5-5")]
    [InlineData("fable", "claude-fable-5-2")]
    public void Tiers_name_the_current_generation(string tier, string model) =>
        Assert.Equal(model, Book.ResolveTier(tier));

    [Fact]
    public void Every_model_the_sdk_knows_is_priced_but_the_unpublished_preview()
    {
        Assert.Equal(["claude-mythos-preview"], Book.UnpricedSdkModels);
    }

    [Theory]
    [InlineData("claude-haiku-5-5", 0.10, 0.50)]
    [InlineData("claude-sonnet-5", 2, 10)]
    [InlineData("claude-sonnet-5-5", 2, 10)]
    [InlineData("claude-opus-4-7", 5, 25)]
    [InlineData("claude-opus-4-8", 5, 25)]
    [InlineData("claude-opus-5", 5, 25)]
    [InlineData("claude-opus-5-5", 4, 20)]
    [InlineData("claude-fable-5", 10, 50)]
    [InlineData("claude-fable-5-1", 10, 50)]
    [InlineData("claude-fable-5-2", 8, 40)]
    [InlineData("claude-mythos-5", 10, 50)]
    [InlineData("claude-mythos-5-1", 10, 50)]
    [InlineData("claude-mythos-5-2", 8, 40)]
    public void The_5x_lineup_is_priced_from_the_platform_pages(string model, double input, double output)
    {
        var price = Book.GetPrice(model, Now);
        Assert.Equal((decimal)input, price.Input);
        Assert.Equal((decimal)output, price.Output);
    }

    [Fact]
    public void Haiku_5_5_bills_every_token_of_a_prompt_over_100K_at_the_higher_band()
    {
        // Up to 100,000 prompt tokens: $0.10 / $0.50. Over: $0.50 / $2.50 on every token of the request, output included.
        var small = Book.Cost("claude-haiku-5-5", new TokenUsage { InputTokens = 100_000, OutputTokens = 1_000 }, Now);
        var large = Book.Cost("claude-haiku-5-5", new TokenUsage { InputTokens = 100_001, OutputTokens = 1_000 }, Now);

        Assert.Equal(0.0100m + 0.0005m, small.Total); // 100,000 × 0.10/1e6 + 1,000 × 0.50/1e6
        Assert.Equal(0.0500005m + 0.0025m, large.Total); // 100,001 × 0.50/1e6 + 1,000 × 2.50/1e6
    }

    [Fact]
    public void The_Sonnet_5_5_cache_read_cut_is_a_new_dated_row_and_older_calls_keep_the_old_rate()
    {
        var usage = new TokenUsage { CacheReadTokens = 1_000_000 };

        Assert.Equal(0.20m, Book.Cost("claude-sonnet-5-5", usage, new DateTimeOffset(2026, 10, 6, 23, 59, 59, TimeSpan.Zero)).Total);
        Assert.Equal(0.10m, Book.Cost("claude-sonnet-5-5", usage, new DateTimeOffset(2026, 10, 7, 0, 0, 0, TimeSpan.Zero)).Total);
    }

    [Fact]
    public void Opus_5_5_cache_reads_are_0_20_and_fable_5_1_has_its_own_cache_read_rate()
    {
        Assert.Equal(0.20m, Book.GetPrice("claude-opus-5-5", Now).CacheRead);
        Assert.Equal(5m, Book.GetPrice("claude-opus-5-5", Now).CacheWrite5m);
        Assert.Equal(0.25m, Book.GetPrice("claude-fable-5-1", Now).CacheRead);
    }

    [Fact]
    public void Fast_mode_is_priced_where_a_page_states_it_and_unpriced_elsewhere()
    {
        var fast = new TokenUsage { InputTokens = 1_000_000, OutputTokens = 1_000_000, Speed = Speed.Fast };

        Assert.Equal(10m + 50m, Book.Cost("claude-opus-5", fast, Now).Total); // $10 / $50 (2x)
        Assert.Throws<PricingException>(() => Book.Cost("claude-opus-5-5", fast, Now));
    }

    [Fact]
    public void The_catalog_carries_the_facts_routing_needs()
    {
        var opus = Book.GetEntry("claude-opus-5-5");
        Assert.Equal(1_000_000, opus.ContextWindow);
        Assert.Equal(128_000, opus.MaxOutput);
        Assert.False(opus.Rules.ForcedToolUse);
        Assert.False(opus.Rules.DisableThinking);
        Assert.False(opus.Rules.ManualThinking);
        Assert.Equal(EffortLevel.Medium, opus.Rules.DefaultEffort);
        Assert.True(opus.Rules.ThinkingTiedToModel);
        Assert.Contains("computer_20251124", opus.Rules.RejectedToolTypes);
        Assert.Equal(["claude-opus-5"], opus.Substitutes);
        Assert.NotEmpty(opus.Rules.Sources);

        var haiku45 = Book.GetEntry("claude-haiku-4-5");
        Assert.Equal(EffortLevels.None, haiku45.Rules.Efforts);
        Assert.False(haiku45.Rules.AdaptiveThinking);
        Assert.Equal(200_000, haiku45.ContextWindow);

        Assert.Equal(new DateTimeOffset(2026, 11, 30, 0, 0, 0, TimeSpan.Zero), Book.GetEntry("claude-sonnet-4-5").Retirement);
    }

    [Fact]
    public void Every_stated_rule_has_a_source_page()
    {
        foreach (var entry in Book.Entries)
        {
            if (!ReferenceEquals(entry.Rules, ModelRules.Permissive))
            {
                Assert.True(entry.Rules.Sources.Count > 0, $"{entry.Id} states rules without a source");
                Assert.All(entry.Rules.Sources, source => Assert.StartsWith("https://platform.claude.com/docs/", source, StringComparison.Ordinal));
            }
        }
    }

    [Fact]
    public void A_user_file_can_replace_one_models_rules_and_a_bad_rule_names_its_key()
    {
        var book = PriceBook.Parse("""
            {"models": [{"id": "claude-opus-5-5", "periods": [{"effectiveFrom": "2026-09-22", "input": 4, "output": 20}],
              "rules": {"forcedToolUse": true, "effort": {"levels": ["low", "high"], "default": "high"}}}]}
            """, "user.json");

        Assert.True(book.GetEntry("claude-opus-5-5").Rules.ForcedToolUse);
        Assert.Equal(EffortLevels.Low | EffortLevels.High, book.GetEntry("claude-opus-5-5").Rules.Efforts);
        Assert.False(book.GetEntry("claude-sonnet-5-5").Rules.ForcedToolUse); // the rest of the defaults stay

        var bad = Assert.Throws<PriceBookException>(() => PriceBook.Parse("""
            {"models": [{"id": "x", "periods": [{"effectiveFrom": "2026-01-01", "input": 1, "output": 1}],
              "rules": {"effort": {"levels": ["low", "turbo"]}}}]}
            """, "user.json"));
        Assert.Contains("$.models[0].rules.effort.levels[1]", bad.Message, StringComparison.Ordinal);
    }
}
