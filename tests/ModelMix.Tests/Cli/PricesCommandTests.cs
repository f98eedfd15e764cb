using System.Text.Json;
using ModelMix.Pricing;

namespace ModelMix.Tests.Cli;

public sealed class PricesCommandTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static List<JsonElement> Models(JsonElement json) => json.GetProperty("models").EnumerateArray().ToList();

    private static List<JsonElement> PeriodsOf(JsonElement json, string id) =>
        Models(json).Where(m => m.GetProperty("id").GetString() == id).ToList();

    [Fact]
    public async Task Table_lists_the_models_and_the_unpriced_sdk_models()
    {
        var result = await Cli.RunAsync("prices");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(string.Empty, result.Error);
        Assert.Contains("claude-haiku-4-5-20251001", result.Output);
        Assert.Contains("claude-haiku-4-5", result.Output);
        Assert.Contains("claude-sonnet-4-5-20250929", result.Output); // never wrapped mid-id when captured
        Assert.Contains("USD per million tokens; batch ×0.5", result.Output);
        Assert.Contains("fast mode ×2", result.Output); // Opus 5
        Assert.Contains("no fast mode (×6 kept to price past fast calls)", result.Output); // Opus 4.6: fastMode false, its 6x rate kept
        Assert.Contains("fast mode (rate unpublished: recorded unpriced)", result.Output); // Opus 5.5: fastMode true, no multiplier
        Assert.Contains("no forced tool use", result.Output);
        Assert.Contains("reads thinking of: claude-opus-5-5", result.Output);
        Assert.NotEmpty(PriceBook.Default.UnpricedSdkModels);
        Assert.Contains("Unpriced (known to the Anthropic SDK", result.Output);
        Assert.Contains(PriceBook.Default.UnpricedSdkModels[0], result.Output);
        Assert.DoesNotContain("\u001b[", result.Output);
    }

    [Fact]
    public async Task Json_lists_rates_per_million_tokens()
    {
        var json = (await Cli.RunAsync("prices", "--format", "json")).Json();

        var sonnet = Assert.Single(PeriodsOf(json, "claude-sonnet-4-5-20250929"));
        Assert.Equal(["claude-sonnet-4-5"], sonnet.GetProperty("aliases").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(3m, sonnet.GetProperty("input_per_mtok").GetDecimal());
        Assert.Equal(15m, sonnet.GetProperty("output_per_mtok").GetDecimal());
        Assert.Equal(3.75m, sonnet.GetProperty("cache_write_5m_per_mtok").GetDecimal());
        Assert.Equal(6m, sonnet.GetProperty("cache_write_1h_per_mtok").GetDecimal());
        Assert.Equal(0.3m, sonnet.GetProperty("cache_read_per_mtok").GetDecimal());
        Assert.Equal("claude-haiku-5-5", json.GetProperty("tiers").GetProperty("haiku").GetString()); // the default haiku tier since the 5.x catalog
        Assert.Equal(0.5m, json.GetProperty("batch_multiplier").GetDecimal());
        Assert.Equal(
            PriceBook.Default.UnpricedSdkModels,
            json.GetProperty("unpriced_sdk_models").EnumerateArray().Select(m => m.GetString()!).ToList());
    }

    [Fact]
    public async Task Json_shows_fast_mode_and_the_request_rules_routing_uses()
    {
        var json = (await Cli.RunAsync("prices", "--format", "json")).Json();

        var opus55 = Assert.Single(PeriodsOf(json, "claude-opus-5-5"));
        Assert.True(opus55.GetProperty("fast_mode").GetBoolean()); // stated fastMode: true, no published multiplier
        Assert.Equal(JsonValueKind.Null, opus55.GetProperty("fast_multiplier").ValueKind);
        var rules = opus55.GetProperty("rules");
        Assert.False(rules.GetProperty("forced_tool_use").GetBoolean());
        Assert.False(rules.GetProperty("thinking").GetProperty("disable").GetBoolean());
        Assert.True(rules.GetProperty("thinking").GetProperty("on_by_default").GetBoolean());
        Assert.Equal(["claude-opus-5-5"], rules.GetProperty("preserved_thinking").GetProperty("reads_from").EnumerateArray().Select(m => m.GetString()));
        Assert.All(PeriodsOf(json, "claude-opus-4-6"), period => Assert.False(period.GetProperty("fast_mode").GetBoolean())); // fastMode: false despite its kept 6x rate
        Assert.All(PeriodsOf(json, "claude-opus-5"), period => Assert.True(period.GetProperty("fast_mode").GetBoolean())); // a fastMultiplier in force
    }

    [Fact]
    public async Task At_a_date_shows_only_the_periods_in_force()
    {
        var all = (await Cli.RunAsync("prices", "--format", "json")).Json();
        var before = (await Cli.RunAsync("prices", "--format", "json", "--at", "2026-03-01")).Json();
        var after = (await Cli.RunAsync("prices", "--format", "json", "--at", "2026-03-13")).Json();
        var early = (await Cli.RunAsync("prices", "--format", "json", "--at", "2025-01-01")).Json();

        Assert.Equal(2, PeriodsOf(all, "claude-opus-4-6").Count);
        var opusBefore = Assert.Single(PeriodsOf(before, "claude-opus-4-6"));
        Assert.Equal(200000, opusBefore.GetProperty("long_context").GetProperty("threshold_tokens").GetInt64());
        var opusAfter = Assert.Single(PeriodsOf(after, "claude-opus-4-6")); // the boundary belongs to the new period (UTC)
        Assert.Equal(JsonValueKind.Null, opusAfter.GetProperty("long_context").ValueKind);
        Assert.Empty(PeriodsOf(early, "claude-haiku-4-5-20251001")); // not yet released
        Assert.All(Models(after), m => Assert.Single(PeriodsOf(after, m.GetProperty("id").GetString()!)));
    }

    [Fact]
    public async Task A_price_book_file_overlays_the_defaults()
    {
        var file = _folder.Write("prices.json", """
            { "schemaVersion": 1, "currency": "USD", "models": [
              { "id": "my-fine-tune", "aliases": [], "family": "haiku", "periods": [ { "effectiveFrom": "2025-01-01", "effectiveTo": null, "input": 2, "output": 8 } ] } ] }
            """);

        var result = await Cli.RunAsync("prices", "--prices", file, "--format", "json");

        var json = result.Json();
        Assert.Equal(file, json.GetProperty("source").GetString());
        Assert.Equal(2m, Assert.Single(PeriodsOf(json, "my-fine-tune")).GetProperty("input_per_mtok").GetDecimal());
        Assert.Single(PeriodsOf(json, "claude-sonnet-4-5-20250929"));
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("{ not json")]
    [InlineData("""{ "schemaVersion": 1, "models": [ { "id": "x", "periods": [ { "effectiveFrom": "2025-01-01", "input": -1, "output": 1 } ] } ] }""")]
    public async Task A_bad_prices_file_exits_1_with_a_message_naming_the_file(string content)
    {
        var file = content == "missing" ? Path.Combine(_folder.Path, "missing.json") : _folder.Write("bad.json", content);

        var result = await Cli.RunAsync("prices", "--prices", file);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("modelmix prices: ", result.Error);
        Assert.Contains(file, result.Error);
        Assert.Equal(string.Empty, result.Output);
    }

    [Fact]
    public async Task A_bad_date_is_a_parse_error()
    {
        var result = await Cli.RunAsync("prices", "--at", "soon");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("'soon' is not a date or time", result.Error);
    }
}
