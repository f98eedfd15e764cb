using System.Globalization;
using ModelMix.Pricing;

namespace ModelMix.Tests.Pricing;

/// <summary>Loading, overlaying, validating and resolving price books; effective dating on a custom book.</summary>
public sealed class PriceBookTests
{
    private const string TwoPeriods = """
        {
          "replaceDefaults": true,
          "models": [
            {
              "id": "test-model-20250101",
              "aliases": ["test-model"],
              "periods": [
                { "effectiveFrom": "2025-07-01", "effectiveTo": null, "input": 2, "output": 4 },
                { "effectiveFrom": "2025-01-01", "effectiveTo": "2025-07-01", "input": 1, "output": 2 }
              ]
            }
          ]
        }
        """;

    private static readonly DateTimeOffset s_at = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    // first period $1/$2: 1000*1 + 1000*2 = 3000 /1e6 = 0.003
    [InlineData("2025-03-01T00:00:00Z", "0.003")]
    // last tick of the first period (effectiveTo is exclusive): 0.003
    [InlineData("2025-06-30T23:59:59.9999999Z", "0.003")]
    // exactly at the boundary the second period applies ($2/$4): 1000*2 + 1000*4 = 6000 /1e6 = 0.006
    [InlineData("2025-07-01T00:00:00Z", "0.006")]
    // 2025-07-01T01:00+02:00 is 2025-06-30T23:00Z, still the first period: 0.003
    [InlineData("2025-07-01T01:00:00+02:00", "0.003")]
    // second period: 0.006
    [InlineData("2025-09-01T00:00:00Z", "0.006")]
    public void Effective_dating_picks_the_period_in_force(string at, string expected)
    {
        var book = PriceBook.Parse(TwoPeriods, "custom.json");

        var cost = book.Cost("test-model", new TokenUsage(1000, 1000), DateTimeOffset.Parse(at, CultureInfo.InvariantCulture));

        Assert.Equal(decimal.Parse(expected, CultureInfo.InvariantCulture), cost.Total);
    }

    [Theory]
    // $10 per 1,000 until 2026-01-01, then $5 per 1,000: 200 searches = 200 * 0.01 = 2, or 200 * 0.005 = 1.
    // The model costs nothing here, so the total is the fee alone.
    [InlineData("2025-12-31T23:59:59Z", "2")]
    [InlineData("2026-01-01T00:00:00Z", "1")]
    public void Server_tool_prices_are_effective_dated_and_a_user_file_replaces_them(string at, string expected)
    {
        const string json = """
            {
              "serverTools": {
                "web_search_requests": {
                  "source": "https://example.test/contract",
                  "periods": [
                    { "effectiveFrom": "2026-01-01", "perThousand": 5 },
                    { "effectiveFrom": "2025-01-01", "effectiveTo": "2026-01-01", "perThousand": 10 }
                  ]
                }
              },
              "models": [{ "id": "free-model", "periods": [{ "effectiveFrom": "2025-01-01", "input": 0, "output": 0 }] }]
            }
            """;
        var book = PriceBook.Parse(json, "contract.json");

        var cost = book.Cost("free-model", new TokenUsage(1000, 1000, WebSearchRequests: 200), DateTimeOffset.Parse(at, CultureInfo.InvariantCulture));

        Assert.Equal(decimal.Parse(expected, CultureInfo.InvariantCulture), cost.ServerTools);
        Assert.Equal(decimal.Parse(expected, CultureInfo.InvariantCulture), cost.Total);
        // The overlay replaced web search's periods whole and kept the default web fetch entry.
        Assert.Equal([ServerTool.WebSearch, ServerTool.WebFetch], book.ServerTools.Select(entry => entry.Tool).Order());
        Assert.Equal("https://example.test/contract", book.ServerTools.Single(entry => entry.Tool == ServerTool.WebSearch).Source);
    }

    [Fact]
    public void A_book_that_stands_alone_without_server_tools_cannot_price_a_search()
    {
        var book = PriceBook.Parse(TwoPeriods, "custom.json");

        // No search: priced as before, at the second period's $2 / $4: 1000*2 + 1000*4 = 6000 /1e6 = 0.006.
        Assert.Equal(0.006m, book.Cost("test-model", new TokenUsage(1000, 1000), s_at).Total);
        var ex = Assert.Throws<PricingException>(() => book.Cost("test-model", new TokenUsage(1000, 1000, WebSearchRequests: 1), s_at));
        Assert.Contains("custom.json", ex.Message, StringComparison.Ordinal);
        Assert.False(book.TryGetServerToolPrice(ServerTool.WebSearch, s_at, out _));
    }

    [Fact]
    public void The_default_book_prices_web_search_at_ten_dollars_per_thousand_and_web_fetch_at_zero()
    {
        Assert.True(PriceBook.Default.TryGetServerToolPrice(ServerTool.WebSearch, s_at, out var search));
        Assert.True(PriceBook.Default.TryGetServerToolPrice(ServerTool.WebFetch, s_at, out var fetch));

        Assert.Equal((10m, 0.01m), (search.PerThousand, search.PerUse));
        Assert.Equal((0m, 0m), (fetch.PerThousand, fetch.PerUse));
        Assert.All(PriceBook.Default.ServerTools, entry => Assert.StartsWith("https://platform.claude.com/docs/", entry.Source, StringComparison.Ordinal));
    }

    [Fact]
    public void Before_the_first_period_is_an_unknown_model_error_naming_model_and_file()
    {
        var book = PriceBook.Parse(TwoPeriods, "custom.json");

        var ex = Assert.Throws<UnknownModelException>(
            () => book.Cost("test-model", new TokenUsage(1, 1), new DateTimeOffset(2024, 12, 31, 0, 0, 0, TimeSpan.Zero)));

        Assert.Contains("test-model", ex.Message, StringComparison.Ordinal);
        Assert.Contains("custom.json", ex.Message, StringComparison.Ordinal);
        Assert.False(book.TryGetPrice("test-model", new DateTimeOffset(2024, 12, 31, 0, 0, 0, TimeSpan.Zero), out _));
    }

    [Fact]
    public void Periods_are_sorted_and_cache_rates_default_from_the_multipliers()
    {
        var book = PriceBook.Parse(TwoPeriods, "custom.json");
        var entry = book.GetEntry("test-model");

        Assert.Equal(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero), entry.Periods[0].EffectiveFrom);
        var price = book.GetPrice("test-model-20250101", new DateTimeOffset(2025, 8, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal((2.5m, 4m, 0.2m), (price.CacheWrite5m, price.CacheWrite1h, price.CacheRead));
    }

    [Fact]
    public void A_standalone_book_does_not_know_the_defaults()
    {
        var book = PriceBook.Parse(TwoPeriods, "custom.json");

        Assert.False(book.TryResolveId("claude-sonnet-4-5", out _));
        Assert.Single(book.Entries);
    }

    [Fact]
    public void A_user_file_overlays_the_defaults_replacing_by_id_or_alias_and_adding_new_models()
    {
        var path = Path.Combine(Path.GetTempPath(), $"modelmix-prices-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """
            {
              // comments are allowed in user files
              "models": [
                { "id": "claude-sonnet-4-5", "periods": [ { "effectiveFrom": "2020-01-01", "input": 1, "output": 1 } ] },
                { "id": "my-fine-tune", "periods": [ { "effectiveFrom": "2020-01-01", "input": 7, "output": 9 } ] }
              ]
            }
            """);
        try
        {
            var book = PriceBook.Load(path);

            Assert.Equal(path, book.SourceName);
            // replaced through its alias: 1000*1 + 1000*1 = 2000 /1e6 = 0.002
            Assert.Equal(0.002m, book.Cost("claude-sonnet-4-5", new TokenUsage(1000, 1000), s_at).Total);
            // the replacement keeps answering to the replaced entry's names, so dated responses get the new price
            Assert.Equal(0.002m, book.Cost("claude-sonnet-4-5-20250929", new TokenUsage(1000, 1000), s_at).Total);
            Assert.Equal("claude-sonnet-4-5", book.ResolveId("claude-sonnet-4-5-20250929"));
            // added: 1000*7 + 1000*9 = 16000 /1e6 = 0.016
            Assert.Equal(0.016m, book.Cost("my-fine-tune", new TokenUsage(1000, 1000), s_at).Total);
            // untouched default: Haiku 4.5 1000*1 + 1000*5 = 6000 /1e6 = 0.006
            Assert.Equal(0.006m, book.Cost("claude-haiku-4-5", new TokenUsage(1000, 1000), s_at).Total);
            Assert.Equal(PriceBook.Default.Entries.Count + 1, book.Entries.Count);
            var ex = Assert.Throws<UnknownModelException>(() => book.ResolveId("nope"));
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_user_file_can_override_modifiers_and_tiers()
    {
        var book = PriceBook.Parse("""
            {
              "modifiers": { "batchMultiplier": 0.4, "inferenceGeo": { "eu": 1.2 } },
              "tiers": { "sonnet": "claude-sonnet-4-5" },
              "models": []
            }
            """, "user.json");

        Assert.Equal("claude-sonnet-4-5-20250929", book.ResolveTier("sonnet"));
        // batch 0.4: (1000*3 + 1000*15) * 0.4 = 18000*0.4 = 7200 /1e6 = 0.0072
        Assert.Equal(0.0072m, book.Cost("claude-sonnet-4-5", new TokenUsage(1000, 1000, ServiceTier: ServiceTier.Batch), s_at).Total);
        // eu 1.2: 18000*1.2 = 21600 /1e6 = 0.0216; us still 1.1 from the defaults
        Assert.Equal(0.0216m, book.Cost("claude-sonnet-4-5", new TokenUsage(1000, 1000, InferenceGeo: "eu"), s_at).Total);
        Assert.Equal(1.1m, book.InferenceGeoMultipliers["us"]);
    }

    // Mutation testing (docs/testing.md): a book that ignored a user file's cache multipliers, or a period's explicit
    // cache rates, survived (the default file's multipliers equal the built-in ones).
    [Fact]
    public void A_user_file_can_set_the_cache_multipliers_and_a_period_its_own_cache_rates()
    {
        var book = PriceBook.Parse("""
            {
              "modifiers": { "cacheWrite5mMultiplier": 1.5, "cacheWrite1hMultiplier": 3, "cacheReadMultiplier": 0.2 },
              "models": [
                { "id": "m-derived", "periods": [ { "effectiveFrom": "2025-01-01", "input": 2, "output": 8 } ] },
                { "id": "m-explicit", "periods": [ { "effectiveFrom": "2025-01-01", "input": 2, "output": 8, "cacheWrite5m": 1, "cacheWrite1h": 1.25, "cacheRead": 0.5 } ] }
              ]
            }
            """, "user.json");
        var usage = new TokenUsage(1000, 0, CacheWrite5mTokens: 1000, CacheWrite1hTokens: 1000, CacheReadTokens: 1000);

        // Derived from $2 input: 5m 2 × 1.5 = 3, 1h 2 × 3 = 6, read 2 × 0.2 = 0.4 per MTok.
        // 1000 × (2 + 3 + 6 + 0.4) = 11400 / 1e6 = 0.0114.
        Assert.Equal(new CostBreakdown(0.002m, 0m, 0.003m, 0.006m, 0.0004m), book.Cost("m-derived", usage, s_at));
        // Explicit rates win over the multipliers: 1000 × (2 + 1 + 1.25 + 0.5) = 4750 / 1e6 = 0.00475.
        Assert.Equal(new CostBreakdown(0.002m, 0m, 0.001m, 0.00125m, 0.0005m), book.Cost("m-explicit", usage, s_at));
    }

    [Fact]
    public void An_alias_two_models_claim_is_refused_naming_where()
    {
        var ex = Assert.Throws<PriceBookException>(() => PriceBook.Parse("""
            {
              "replaceDefaults": true,
              "models": [
                { "id": "a", "aliases": ["shared"], "periods": [ { "effectiveFrom": "2025-01-01", "input": 1, "output": 2 } ] },
                { "id": "b", "aliases": ["shared"], "periods": [ { "effectiveFrom": "2025-01-01", "input": 1, "output": 2 } ] }
              ]
            }
            """, "user.json"));

        // Refused when the file is read, naming the second claim and the first.
        Assert.StartsWith("Invalid price book user.json: $.models[1]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("duplicate model id or alias 'shared' (already used at $.models[0]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryGetPrice_finds_the_period_in_force_and_says_no_otherwise()
    {
        Assert.True(PriceBook.Default.TryGetPrice("claude-sonnet-5-5", new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero), out var first));
        Assert.Equal(0.2m, first.CacheRead); // the first period's reads
        Assert.True(PriceBook.Default.TryGetPrice("claude-sonnet-5-5", new DateTimeOffset(2026, 10, 7, 0, 0, 0, TimeSpan.Zero), out var second));
        Assert.Equal(0.1m, second.CacheRead);
        Assert.False(PriceBook.Default.TryGetPrice("claude-sonnet-5-5", new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), out _));
        Assert.False(PriceBook.Default.TryGetPrice("no-such-model", s_at, out _));
        Assert.False(PriceBook.Default.TryGetPrice(null!, s_at, out _));
    }

    [Fact]
    public void Cost_breakdowns_add_component_by_component()
    {
        var sum = new CostBreakdown(1m, 2m, 3m, 4m, 5m) + new CostBreakdown(0.1m, 0.2m, 0.3m, 0.4m, 0.5m);

        Assert.Equal(new CostBreakdown(1.1m, 2.2m, 3.3m, 4.4m, 5.5m), sum);
        Assert.Equal(16.5m, sum.Total);
    }

    [Theory]
    [InlineData(
        """{"models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","input":-1,"output":2}]}]}""",
        "$.models[0].periods[0].input")]
    [InlineData(
        """{"models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","input":1,"output":2,"cacheRead":-0.1}]}]}""",
        "$.models[0].periods[0].cacheRead")]
    [InlineData(
        """{"models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","output":2}]}]}""",
        "$.models[0].periods[0].input")]
    [InlineData(
        """{"models":[{"id":"m","periods":[{"input":1,"output":2}]}]}""",
        "$.models[0].periods[0].effectiveFrom")]
    [InlineData(
        """{"models":[{"periods":[{"effectiveFrom":"2025-01-01","input":1,"output":2}]}]}""",
        "$.models[0].id")]
    [InlineData(
        """{"models":[{"id":"m"}]}""",
        "$.models[0].periods")]
    [InlineData(
        """{"models":[{"id":"m","periods":[]}]}""",
        "$.models[0].periods")]
    [InlineData(
        """{"replaceDefaults":true}""",
        "$.models")]
    [InlineData(
        """{"models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","effectiveTo":"2025-06-01","input":1,"output":2},{"effectiveFrom":"2025-05-01","input":1,"output":2}]}]}""",
        "$.models[0].periods[1].effectiveFrom")]
    [InlineData(
        """{"models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","input":1,"output":2},{"effectiveFrom":"2025-05-01","input":1,"output":2}]}]}""",
        "$.models[0].periods[1].effectiveFrom")]
    [InlineData(
        """{"models":[{"id":"m","periods":[{"effectiveFrom":"2025-06-01","effectiveTo":"2025-01-01","input":1,"output":2}]}]}""",
        "$.models[0].periods[0].effectiveTo")]
    [InlineData(
        """{"models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","input":1,"output":2}]},{"id":"m","periods":[{"effectiveFrom":"2025-01-01","input":1,"output":2}]}]}""",
        "$.models[1].id")]
    [InlineData(
        """{"models":[{"id":"a","aliases":["x"],"periods":[{"effectiveFrom":"2025-01-01","input":1,"output":2}]},{"id":"b","aliases":["x"],"periods":[{"effectiveFrom":"2025-01-01","input":1,"output":2}]}]}""",
        "$.models[1].aliases[0]")]
    [InlineData(
        """{"models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","input":"3","output":2}]}]}""",
        "$.models[0].periods[0].input")]
    [InlineData(
        """{"models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","input":1,"output":2,"cacheWrite5M":1}]}]}""",
        "$.models[0].periods[0].cacheWrite5M")]
    [InlineData(
        """{"models":[{"id":"m","periods":[{"effectiveFrom":"not a date","input":1,"output":2}]}]}""",
        "$.models[0].periods[0].effectiveFrom")]
    [InlineData(
        """{"models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","input":1,"output":2,"longContext":{"input":6,"output":22.5}}]}]}""",
        "$.models[0].periods[0].longContext.thresholdTokens")]
    [InlineData(
        """{"modifiers":{"batchMultiplier":-0.5},"models":[]}""",
        "$.modifiers.batchMultiplier")]
    [InlineData(
        """{"tiers":{"opus":"claude-opus-99"},"models":[]}""",
        "$.tiers.opus")]
    [InlineData(
        """{"serverTools":{"code_execution_requests":{"periods":[{"effectiveFrom":"2025-01-01","perThousand":1}]}},"models":[]}""",
        "$.serverTools.code_execution_requests")]
    [InlineData(
        """{"serverTools":{"web_search_requests":{"periods":[{"effectiveFrom":"2025-01-01"}]}},"models":[]}""",
        "$.serverTools.web_search_requests.periods[0].perThousand")]
    [InlineData(
        """{"serverTools":{"web_search_requests":{"periods":[{"effectiveFrom":"2025-01-01","perThousand":-10}]}},"models":[]}""",
        "$.serverTools.web_search_requests.periods[0].perThousand")]
    [InlineData(
        """{"serverTools":{"web_search_requests":{"periods":[]}},"models":[]}""",
        "$.serverTools.web_search_requests.periods")]
    [InlineData(
        """{"serverTools":{"web_search_requests":{"periods":[{"effectiveFrom":"2025-01-01","perThousand":10},{"effectiveFrom":"2025-06-01","perThousand":5}]}},"models":[]}""",
        "$.serverTools.web_search_requests.periods[1].effectiveFrom")]
    [InlineData(
        """{"serverTools":{"web_search_requests":{"price":10,"periods":[{"effectiveFrom":"2025-01-01","perThousand":10}]}},"models":[]}""",
        "$.serverTools.web_search_requests.price")]
    [InlineData(
        """{"models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","input":1,"output":2}]}""",
        "$ (line")]
    public void Invalid_books_fail_with_the_file_name_and_json_path(string json, string path)
    {
        var ex = Assert.Throws<PriceBookException>(() => PriceBook.Parse(json, "broken-prices.json"));

        Assert.Contains("broken-prices.json", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Loading_a_missing_file_names_it()
    {
        var path = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.json");

        var ex = Assert.Throws<PriceBookException>(() => PriceBook.Load(path));

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pricing_exceptions_share_a_base()
    {
        Assert.True(typeof(PricingException).IsAssignableFrom(typeof(PriceBookException)));
        Assert.True(typeof(PricingException).IsAssignableFrom(typeof(UnknownModelException)));
    }

    [Fact]
    public void Default_book_names_itself_and_every_entry_has_a_source()
    {
        var book = PriceBook.Default;

        Assert.Same(book, PriceBook.Default);
        Assert.Equal("prices.json (embedded default) — set ModelMix:Prices to a price book file of your own", book.SourceName);
        Assert.All(book.Entries, static entry => Assert.StartsWith("https://", entry.Source, StringComparison.Ordinal));
        Assert.True(book.Entries.Count >= 13);
    }

    [Theory]
    [InlineData("claude-sonnet-4-5", "claude-sonnet-4-5-20250929")]
    [InlineData("claude-haiku-4-5", "claude-haiku-4-5-20251001")]
    [InlineData("claude-opus-4-5", "claude-opus-4-5-20251101")]
    [InlineData("claude-opus-4-1", "claude-opus-4-1-20250805")]
    [InlineData("claude-opus-4-0", "claude-opus-4-20250514")]
    [InlineData("claude-sonnet-4-0", "claude-sonnet-4-20250514")]
    [InlineData("claude-3-7-sonnet-latest", "claude-3-7-sonnet-20250219")]
    [InlineData("claude-3-5-haiku-latest", "claude-3-5-haiku-20241022")]
    [InlineData("claude-3-opus-latest", "claude-3-opus-20240229")]
    [InlineData("claude-opus-4-6", "claude-opus-4-6")]
    [InlineData("CLAUDE-SONNET-4-6", "claude-sonnet-4-6")]
    public void Aliases_resolve_to_the_canonical_id(string alias, string id)
    {
        Assert.Equal(id, PriceBook.Default.ResolveId(alias));
    }

    [Theory]
    [InlineData("haiku", "claude-haiku-5-5")]
    [InlineData("sonnet", "claude-sonnet-5-5")]
    [InlineData("opus", "claude-opus-5-5")]
    [InlineData("fable", "claude-fable-5-2")]
    [InlineData("claude-opus-4-5", "claude-opus-4-5-20251101")]
    public void Tiers_name_the_current_model_of_each_family(string tier, string id)
    {
        Assert.Equal(id, PriceBook.Default.ResolveTier(tier));
    }

    [Theory]
    [InlineData("claude-sonnet-4-5", 1024)]
    [InlineData("claude-sonnet-4-6", 2048)]
    [InlineData("claude-opus-4-5", 4096)]
    [InlineData("claude-opus-4-6", 4096)]
    [InlineData("claude-haiku-4-5", 4096)]
    [InlineData("claude-3-5-haiku-20241022", 2048)]
    [InlineData("claude-3-haiku-20240307", 2048)]
    [InlineData("claude-opus-4-1", 1024)]
    [InlineData("claude-3-7-sonnet-20250219", 1024)]
    public void Min_cacheable_tokens_per_model(string model, int tokens)
    {
        Assert.Equal(tokens, PriceBook.Default.GetEntry(model).MinCacheableTokens);
    }

    [Fact]
    public void Default_cache_rates_follow_the_multipliers_except_claude_3_haiku()
    {
        var sonnet = PriceBook.Default.GetPrice("claude-sonnet-4-5", s_at);
        var haiku3 = PriceBook.Default.GetPrice("claude-3-haiku-20240307", s_at);

        Assert.Equal((3.75m, 6m, 0.3m), (sonnet.CacheWrite5m, sonnet.CacheWrite1h, sonnet.CacheRead));
        Assert.Equal(new LongContextPrice(200_000, 6m, 22.5m, 7.5m, 12m, 0.6m), sonnet.LongContext);
        Assert.Equal((0.30m, 0.50m, 0.03m), (haiku3.CacheWrite5m, haiku3.CacheWrite1h, haiku3.CacheRead));
        Assert.Equal(6m, PriceBook.Default.GetPrice("claude-opus-4-6", s_at).FastMultiplier);
        Assert.Null(PriceBook.Default.GetPrice("claude-opus-4-5", s_at).FastMultiplier);
    }

    [Fact]
    public void Unpriced_sdk_models_lists_sdk_ids_without_an_entry()
    {
        var unpriced = PriceBook.Default.UnpricedSdkModels;

        // Since the 5.x catalog every model id the pinned SDK knows is priced except the Mythos preview (claude-opus-4-7,
        // -4-8, the 5.x, Fable and Mythos releases all have entries now).
        Assert.Equal(["claude-mythos-preview"], unpriced);
        Assert.DoesNotContain("claude-opus-4-7", unpriced);
        Assert.DoesNotContain("claude-haiku-5-5", unpriced);
        Assert.DoesNotContain("claude-sonnet-5-5", unpriced);
        Assert.DoesNotContain("claude-opus-5-5", unpriced);
        Assert.DoesNotContain("claude-fable-5-2", unpriced);
        Assert.DoesNotContain("claude-sonnet-4-5", unpriced);
        Assert.DoesNotContain("claude-sonnet-4-5-20250929", unpriced);
        Assert.DoesNotContain("claude-haiku-4-5-20251001", unpriced);
        Assert.DoesNotContain("claude-opus-4-5-20251101", unpriced);
        Assert.DoesNotContain("claude-opus-4-6", unpriced);
        Assert.DoesNotContain("claude-sonnet-4-6", unpriced);
        Assert.All(unpriced, static id => Assert.False(PriceBook.Default.TryResolveId(id, out _)));
    }

    [Theory]
    [InlineData("ClaudeOpus4_5_20251101", "claude-opus-4-5-20251101")]
    [InlineData("ClaudeSonnet5", "claude-sonnet-5")]
    [InlineData("ClaudeMythosPreview", "claude-mythos-preview")]
    public void Sdk_enum_names_map_to_wire_ids_when_reflection_json_is_off(string name, string id)
    {
        Assert.Equal(id, PriceBook.KebabFromEnumName(name));
    }
}
