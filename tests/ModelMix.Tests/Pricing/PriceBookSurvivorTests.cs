using ModelMix.Pricing;

namespace ModelMix.Tests.Pricing;

/// <summary>
/// Written from the survivors of the fourth session's mutation run over pricing (docs/testing.md): a user book's own
/// modifiers (the default data-residency table, the batch multiplier it reports, explicit long-context cache rates),
/// replacing the first default entry, web fetch fees, the messages of the errors that name an instant, the catalog's
/// spelling of a name, and the SDK models a book cannot price. Money is worked by hand in the comments.
/// </summary>
public sealed class PriceBookSurvivorTests
{
    private static readonly DateTimeOffset s_at = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);

    private const string OneModel = """
        {
          "replaceDefaults": true,
          "models": [ { "id": "m", "periods": [ { "effectiveFrom": "2025-01-01", "input": 1, "output": 2 } ] } ]
        }
        """;

    [Fact]
    public void A_book_standing_alone_without_data_residency_multipliers_gets_the_built_in_table()
    {
        var book = PriceBook.Parse(OneModel, "user.json");
        var usage = new TokenUsage(1000, 1000);

        // 1000 × $1 + 1000 × $2 = 3000 / 1e6 = 0.003; "us" × 1.1 = 0.0033; "global" and "not_available" × 1.
        Assert.Equal(0.0033m, book.Cost("m", usage with { InferenceGeo = "us" }, s_at).Total);
        Assert.Equal(0.003m, book.Cost("m", usage with { InferenceGeo = "global" }, s_at).Total);
        Assert.Equal(0.003m, book.Cost("m", usage with { InferenceGeo = "not_available" }, s_at).Total);
        Assert.Equal(["global", "not_available", "us"], book.InferenceGeoMultipliers.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_batch_multiplier_a_book_reports_is_its_files()
    {
        var alone = PriceBook.Parse("""
            {
              "replaceDefaults": true,
              "modifiers": { "batchMultiplier": 0.4 },
              "models": [ { "id": "m", "periods": [ { "effectiveFrom": "2025-01-01", "input": 1, "output": 2 } ] } ]
            }
            """, "user.json");
        var overlay = PriceBook.Parse("""{ "modifiers": { "batchMultiplier": 0.3 }, "models": [] }""", "user.json");

        Assert.Equal(0.4m, alone.BatchMultiplier);
        Assert.Equal(0.3m, overlay.BatchMultiplier);
        // And the rates agree: (1000 × $1 + 1000 × $2) × 0.4 = 1200 / 1e6 = 0.0012.
        Assert.Equal(0.0012m, alone.Cost("m", new TokenUsage(1000, 1000, ServiceTier: ServiceTier.Batch), s_at).Total);
    }

    [Fact]
    public void A_long_context_price_can_set_its_own_cache_rates()
    {
        var book = PriceBook.Parse("""
            {
              "replaceDefaults": true,
              "models": [ { "id": "m", "periods": [ { "effectiveFrom": "2025-01-01", "input": 3, "output": 15,
                "longContext": { "thresholdTokens": 200000, "input": 6, "output": 22.5, "cacheWrite5m": 7, "cacheWrite1h": 11, "cacheRead": 0.5 } } ] } ]
            }
            """, "user.json");
        // A prompt of 200,001 + 3 × 1000 tokens is over the 200,000 threshold: the long-context rates.
        var usage = new TokenUsage(200_001, 0, CacheWrite5mTokens: 1000, CacheWrite1hTokens: 1000, CacheReadTokens: 1000);

        // input 200001 × $6 / 1e6 = 1.200006; 5m 1000 × $7 = 0.007; 1h 1000 × $11 = 0.011; read 1000 × $0.5 = 0.0005
        // (derived from the $6 input they would be 7.5, 12 and 0.6 per MTok).
        Assert.Equal(new CostBreakdown(1.200006m, 0m, 0.007m, 0.011m, 0.0005m), book.Cost("m", usage, s_at));
    }

    [Fact]
    public void A_user_entry_replacing_the_first_default_entry_takes_its_place()
    {
        var first = PriceBook.Default.Entries[0].Id; // which entry is first, not a price
        var book = PriceBook.Parse($$"""
            { "models": [ { "id": "{{first}}", "periods": [ { "effectiveFrom": "2025-01-01", "input": 1, "output": 2 } ] } ] }
            """, "user.json");

        Assert.Equal(first, book.Entries[0].Id);
        Assert.Equal(PriceBook.Default.Entries.Count, book.Entries.Count);
        Assert.Equal(0.003m, book.Cost(first, new TokenUsage(1000, 1000), s_at).Total); // 1000 × $1 + 1000 × $2 = 0.003
    }

    [Fact]
    public void Web_fetch_fees_are_added_like_web_search_fees()
    {
        var book = PriceBook.Parse("""
            {
              "replaceDefaults": true,
              "serverTools": {
                "web_search_requests": { "periods": [ { "effectiveFrom": "2025-01-01", "perThousand": 10 } ] },
                "web_fetch_requests": { "periods": [ { "effectiveFrom": "2025-01-01", "perThousand": 2 } ] }
              },
              "models": [ { "id": "m", "periods": [ { "effectiveFrom": "2025-01-01", "input": 1, "output": 2 } ] } ]
            }
            """, "user.json");

        // 3 fetches × $2 / 1000 = 0.006.
        Assert.Equal(0.006m, book.Cost("m", new TokenUsage(0, 0, WebFetchRequests: 3), s_at).ServerTools);
        // 5 searches × $10 / 1000 = 0.05, + 0.006 = 0.056.
        Assert.Equal(0.056m, book.Cost("m", new TokenUsage(0, 0, WebSearchRequests: 5, WebFetchRequests: 3), s_at).ServerTools);
    }

    [Fact]
    public void The_fast_mode_and_server_tool_errors_name_the_instant_and_the_counts()
    {
        var book = PriceBook.Parse(OneModel, "user.json");

        var fast = Assert.Throws<PricingException>(() => book.Cost("m", new TokenUsage(1, 1, Speed: Speed.Fast), s_at));
        Assert.Equal(
            "Model 'm' ran in fast mode (usage.speed \"fast\") but its price period in force at 2026-06-01T00:00:00.0000000+00:00 "
            + "has no fastMultiplier, so the call cannot be priced exactly. Add a fastMultiplier to that period in the price book file: user.json.",
            fast.Message);

        var tool = Assert.Throws<PricingException>(() => book.Cost("m", new TokenUsage(1, 1, WebFetchRequests: 3), s_at));
        Assert.Equal(
            "The call used a server tool the price book cannot price: usage.server_tool_use.web_fetch_requests is 3 and no "
            + "serverTools.web_fetch_requests price is in force at 2026-06-01T00:00:00.0000000+00:00 (server-tool fees are never "
            + "assumed to be $0). Add a price period for it to the price book file: user.json.",
            tool.Message);
    }

    [Fact]
    public void A_tier_naming_a_model_the_book_lacks_is_refused_in_words()
    {
        var ex = Assert.Throws<PriceBookException>(() => PriceBook.Parse("""{"tiers":{"opus":"claude-opus-99"},"models":[]}""", "user.json"));

        Assert.Contains("tier 'opus' names model 'claude-opus-99', which has no entry in the price book.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_cannot_be_read_is_named_on_the_exception()
    {
        var path = Path.Combine(Path.GetTempPath(), "modelmix-no-such-folder-" + Guid.NewGuid().ToString("N"), "prices.json");

        var ex = Assert.Throws<PriceBookException>(() => PriceBook.Load(path));

        Assert.Equal(path, ex.SourceName);
        Assert.StartsWith($"Cannot read price book {path}: ", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("claude-haiku-4-5", "claude-haiku-4-5")]
    [InlineData("CLAUDE-Haiku-4-5", "claude-haiku-4-5")]
    [InlineData("claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001")]
    [InlineData("Claude-Haiku-4-5-20251001", "claude-haiku-4-5-20251001")]
    public void The_catalog_spelling_of_an_id_or_alias_in_any_casing(string name, string expected)
    {
        Assert.True(PriceBook.Default.TryGetCatalogName(name, out var catalogName));
        Assert.Equal(expected, catalogName);
        if (name == expected)
        {
            Assert.Same(name, catalogName); // already the catalog's spelling: the same instance, no allocation
        }
    }

    [Fact]
    public void A_name_the_catalog_lacks_has_no_catalog_spelling()
    {
        Assert.False(PriceBook.Default.TryGetCatalogName("gpt-4o", out var unknown));
        Assert.Null(unknown);
        Assert.False(PriceBook.Default.TryGetCatalogName(null!, out var none));
        Assert.Null(none);
    }

    [Fact]
    public void The_sdk_models_a_book_cannot_price_are_listed_and_the_ones_it_can_are_not()
    {
        var book = PriceBook.Parse("""
            {
              "replaceDefaults": true,
              "models": [ { "id": "claude-haiku-4-5-20251001", "aliases": ["claude-haiku-4-5"], "periods": [ { "effectiveFrom": "2025-01-01", "input": 1, "output": 5 } ] } ]
            }
            """, "user.json");

        // The SDK's Model enum names both Haiku 4.5 spellings and both Sonnet 4.5 spellings.
        Assert.DoesNotContain("claude-haiku-4-5", book.UnpricedSdkModels);
        Assert.DoesNotContain("claude-haiku-4-5-20251001", book.UnpricedSdkModels);
        Assert.Contains("claude-sonnet-4-5", book.UnpricedSdkModels);
        Assert.Contains("claude-sonnet-4-5-20250929", book.UnpricedSdkModels);
    }
}
