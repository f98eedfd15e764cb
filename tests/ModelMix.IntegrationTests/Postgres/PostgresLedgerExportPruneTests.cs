using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// Export and export-then-prune on a real PostgreSQL server (docs/ledger.md, "Export and retention"): the export is the
/// SQLite one row for row (same order, same text), and the prune deletes exactly the exported rows before the cut,
/// keeps the rollups, and leaves the audit of the pruned hours' spend unchanged.
/// </summary>
public sealed class PostgresLedgerExportPruneTests() : PostgresDatabaseFolderTest("export", "modelmix-pg-export-")
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 22, 17, 0, TimeSpan.Zero);

    public override Task DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools(); // the SQLite ledger the export is compared with
        return base.DisposeAsync();
    }

    [Fact]
    public async Task Export_matches_sqlite_and_prune_deletes_only_exported_rows_before_the_cut()
    {
        var records = LedgerTraffic.Generate(1_500, seed: 41, T0, TimeSpan.FromSeconds(97));
        await using var store = new PostgresLedgerStore(ConnectionString);
        await store.MigrateAsync();
        await using var sqlite = new SqliteLedgerStore(Path.Combine(Folder, "same.db"));
        await sqlite.MigrateAsync();
        for (var i = 0; i < records.Length; i += 500)
        {
            await store.WriteBatchAsync(records[i..(i + 500)]);
            await sqlite.WriteBatchAsync(records[i..(i + 500)]);
        }

        // The same rows export to the same bytes from both stores (paged: 1,500 rows in pages of 113).
        var fromPostgres = Path.Combine(Folder, "pg.csv");
        var fromSqlite = Path.Combine(Folder, "sqlite.csv");
        await LedgerExporter.ExportAsync(store, new LedgerExportOptions { Path = fromPostgres, Format = LedgerExportFormat.Csv, PageSize = 113 });
        await LedgerExporter.ExportAsync(sqlite, new LedgerExportOptions { Path = fromSqlite, Format = LedgerExportFormat.Csv, PageSize = 113 });
        Assert.Equal(await File.ReadAllTextAsync(fromSqlite), await File.ReadAllTextAsync(fromPostgres));

        var cut = new DateTimeOffset(2026, 3, 2, 12, 0, 0, TimeSpan.Zero);
        var older = records.Where(r => r.Timestamp < cut).ToList();
        var audit = new AuditOptions { To = cut, BaselineModel = "claude-opus-4-5", RoutingStart = T0, RecentCount = 0, SessionWindow = TimeSpan.FromTicks(1) };
        var before = await AuditRunner.RunAsync(store, PriceBook.Default, audit);
        var rollupsBefore = LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync(store));
        var newer = await store.GetTotalsAsync(new LedgerQuery { From = cut });

        var pruned = await LedgerPruner.PruneAsync(store, new LedgerPruneOptions { Before = cut, ExportPath = Path.Combine(Folder, "pruned.jsonl"), BatchSize = 101 });

        Assert.Equal(older.Count, pruned.Deleted);
        Assert.Equal(older.Sum(r => r.Cost?.Total ?? 0m), pruned.DeletedCost);
        Assert.Equal(0, await store.CountAsync(new LedgerQuery { To = cut }));
        Assert.Equal(newer, await store.GetTotalsAsync(new LedgerQuery { From = cut }));
        Assert.Equal(rollupsBefore, LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync(store)));
        var after = await AuditRunner.RunAsync(store, PriceBook.Default, audit);
        Assert.Equal((before.Calls, before.TotalUsd), (after.Calls, after.TotalUsd));
        Assert.True(before.TotalUsd > 0m);

        // A row whose stored cost differs from the exported one is refused, its whole batch kept.
        var row = records.First(r => r.Timestamp >= cut && r.Cost is not null);
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.DeleteExportedAsync([new LedgerExportedRow(row.Id, row.Cost!.Value.Total + 1m)], cut.AddDays(5)));
        Assert.Equal(newer.Count, await store.CountAsync(new LedgerQuery { From = cut }));
    }
}
