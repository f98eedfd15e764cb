using System.Text.Json;
using ModelMix.Ledger;
using ModelMix.Shadow;

namespace ModelMix.Tests.Cli;

public sealed class ExportCommandTests
{
    private static ShadowPair Pair(string id, double? agreement, string? prompt = null) => new()
    {
        PairId = id,
        LiveRequestId = "req-" + id,
        TaskLabel = "sentiment",
        LiveModel = "claude-sonnet-4-5",
        ShadowModel = "claude-haiku-4-5",
        Method = ShadowComparison.Exact,
        Agreement = agreement,
        Status = agreement is null ? "shadow_failed" : "ok",
        LiveCostUsd = 0.000612m,
        ShadowCostUsd = agreement is null ? null : 0.000204m,
        LiveInputTokens = 19,
        LiveOutputTokens = 33,
        ShadowInputTokens = 19,
        ShadowOutputTokens = 33,
        CreatedAt = new DateTimeOffset(2026, 11, 20, 12, 0, 0, TimeSpan.Zero),
        CompletedAt = new DateTimeOffset(2026, 11, 20, 12, 0, 1, TimeSpan.Zero),
        Prompt = prompt,
    };

    [Fact]
    public async Task Shadow_pairs_export_as_routing_dataset_lines_with_the_live_model_as_reference()
    {
        using var folder = new TempFolder();
        var db = Path.Combine(folder.Path, "ledger.db");
        await using (var store = new SqliteLedgerStore(db))
        {
            await store.MigrateAsync();
            await store.WriteShadowPairAsync(Pair("p1", 0.0));
            await store.WriteShadowPairAsync(Pair("p2", null));
            await store.WriteShadowPairAsync(Pair("p3", 1.0, prompt: "Classify: great!") with { CreatedAt = new DateTimeOffset(2026, 11, 20, 13, 0, 0, TimeSpan.Zero) });
        }

        var outPath = Path.Combine(folder.Path, "pairs.jsonl");
        var result = await Cli.RunAsync("export", "--shadow", "--store", db, "--out", outPath);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("Exported 2 shadow pair(s)", result.Output, StringComparison.Ordinal);
        Assert.Contains("skipped 1", result.Output, StringComparison.Ordinal);
        var lines = File.ReadAllLines(outPath).Select(line => JsonDocument.Parse(line).RootElement).ToList();
        Assert.Equal(2, lines.Count);

        var first = lines[0];
        Assert.Equal("shadow/p1", first.GetProperty("id").GetString());
        Assert.Equal("shadow", first.GetProperty("source").GetString());
        Assert.Equal("sentiment", first.GetProperty("task").GetString());
        Assert.False(first.TryGetProperty("prompt", out _)); // prompts are exported only when they were stored
        var live = first.GetProperty("candidates").GetProperty("claude-sonnet-4-5");
        Assert.Equal(1.0, live.GetProperty("quality").GetDouble());
        Assert.Equal(0.000612m, live.GetProperty("cost_usd").GetDecimal());
        Assert.Equal(19, live.GetProperty("input_tokens").GetInt64());
        Assert.Equal(33, live.GetProperty("output_tokens").GetInt64());
        var shadow = first.GetProperty("candidates").GetProperty("claude-haiku-4-5");
        Assert.Equal(0.0, shadow.GetProperty("quality").GetDouble());
        Assert.Equal(0.000204m, shadow.GetProperty("cost_usd").GetDecimal());

        Assert.Equal("Classify: great!", lines[1].GetProperty("prompt").GetString());
        Assert.Equal(1.0, lines[1].GetProperty("candidates").GetProperty("claude-haiku-4-5").GetProperty("quality").GetDouble());
    }

    [Fact]
    public async Task Without_out_the_lines_go_to_standard_output_and_the_summary_to_standard_error()
    {
        using var folder = new TempFolder();
        var db = Path.Combine(folder.Path, "ledger.db");
        await using (var store = new SqliteLedgerStore(db))
        {
            await store.MigrateAsync();
            await store.WriteShadowPairAsync(Pair("p1", 0.0));
            await store.WriteShadowPairAsync(Pair("p2", null));
            await store.WriteShadowPairAsync(Pair("p3", 1.0, prompt: "Classify: great!"));
        }

        var result = await Cli.RunAsync("export", "--shadow", "--store", db);

        Assert.True(result.ExitCode == 0, result.Error);
        // Standard output is pure JSON Lines (one per compared pair), ready to pipe into a file or `modelmix eval`.
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["shadow/p1", "shadow/p3"], lines.Select(line => JsonDocument.Parse(line).RootElement.GetProperty("id").GetString()));
        Assert.Contains("Exported 2 shadow pair(s) to standard output; skipped 1", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_without_a_kind_or_with_a_missing_ledger_is_a_clear_error()
    {
        using var folder = new TempFolder();
        var noKind = await Cli.RunAsync("export", "--store", "x.db", "--out", Path.Combine(folder.Path, "o.jsonl"));
        Assert.Equal(1, noKind.ExitCode);
        Assert.Contains("--shadow", noKind.Error, StringComparison.Ordinal);

        var missing = await Cli.RunAsync("export", "--shadow", "--store", Path.Combine(folder.Path, "missing.db"), "--out", Path.Combine(folder.Path, "o.jsonl"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("does not exist", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_version_1_ledger_is_upgraded_to_hold_shadow_pairs_and_keeps_its_records()
    {
        using var folder = new TempFolder();
        var db = Path.Combine(folder.Path, "v1.db");
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + db))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = SqliteLedgerSchema.Migrations[0] + "\nPRAGMA user_version = 1;";
            command.ExecuteNonQuery();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        await using var store = new SqliteLedgerStore(db);
        await store.MigrateAsync();
        await store.WriteShadowPairAsync(Pair("p1", 0.5));
        var pairs = new List<ShadowPair>();
        await foreach (var pair in store.ReadShadowPairsAsync())
        {
            pairs.Add(pair);
        }

        Assert.Equal(0.5, Assert.Single(pairs).Agreement);
        Assert.Equal(SqliteLedgerSchema.LatestVersion, SqliteLedgerStore.SchemaVersion); // every later migration applied too
    }
}
