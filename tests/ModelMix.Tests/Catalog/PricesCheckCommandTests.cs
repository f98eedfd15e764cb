using Microsoft.Data.Sqlite;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Cli;

namespace ModelMix.Tests.Catalog;

/// <summary><c>modelmix prices</c> names each tier's model; <c>--check</c> finds what the catalog lacks and what the ledger still uses.</summary>
public sealed class PricesCheckCommandTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    [Fact]
    public async Task The_table_says_which_model_each_tier_means()
    {
        var result = await ModelMix.Tests.Cli.Cli.RunAsync("prices");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Tiers: haiku → claude-haiku-5-5, sonnet → claude-sonnet-5-5, opus → claude-opus-5-5, fable → claude-fable-5-2", result.Output);
    }

    [Fact]
    public async Task Check_lists_the_sdk_models_without_a_price_and_the_retired_and_unpriced_models_in_the_ledger()
    {
        var db = Path.Combine(_folder.Path, "ledger.db");
        await using (var store = new SqliteLedgerStore(db))
        {
            await store.MigrateAsync();
            await store.WriteBatchAsync([Record("claude-sonnet-4-5"), Record("claude-sonnet-4-5"), Record("claude-future-9"), Record("claude-haiku-5-5")]);
        }

        var result = await ModelMix.Tests.Cli.Cli.RunAsync("prices", "--check", "--db", db);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("not in the catalog: " + string.Join(", ", PriceBook.Default.UnpricedSdkModels), result.Output);
        Assert.Contains("Retired models still used in the last 30 days: claude-sonnet-4-5 (2 calls, retired 2026-11-30)", result.Output);
        Assert.Contains("Unpriced models used in the last 30 days (recorded without cost; add a price to reprice them): claude-future-9 (1 calls)", result.Output);
        Assert.DoesNotContain("claude-haiku-5-5 (", result.Output);
    }

    private static LedgerRecord Record(string model) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        Timestamp = DateTimeOffset.UtcNow.AddDays(-1),
        RequestId = "mmx_" + Guid.NewGuid().ToString("N"),
        RequestedModel = model,
        RoutedModel = model,
        Usage = new TokenUsage { InputTokens = 10, OutputTokens = 5 },
    };
}
