using Microsoft.Extensions.Time.Testing;
using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// Automatic retention (docs/ledger.md, "Automatic retention") on a real PostgreSQL server with a fake clock: each
/// whole month older than RawAge is exported to its own file and its monthly partition dropped whole; a crash between
/// export and prune loses nothing and writes no row twice; with two replicas only one runs retention at a time.
/// </summary>
public sealed class PostgresLedgerRetentionTests() : PostgresDatabaseFolderTest("retention", "modelmix-pg-retention-")
{
    // 2,400 calls, one every 53 minutes, from 1 March 2026 22:17 UTC: through about 30 May.
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 22, 17, 0, TimeSpan.Zero);

    // Now 15 June, RawAge 30 days: now − 30 days is 16 May, the cut is 1 May.
    private static readonly DateTimeOffset Now = new(2026, 6, 15, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Cut = new(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);

    private LedgerRetentionOptions Options() => new() { Enabled = true, RawAge = TimeSpan.FromDays(30), ExportFolder = Folder, BatchSize = 97 };

    private async Task<(PostgresLedgerStore Store, LedgerRecord[] Records)> SeedAsync()
    {
        var records = LedgerTraffic.Generate(2_400, seed: 59, T0, TimeSpan.FromMinutes(53));
        var store = new PostgresLedgerStore(ConnectionString);
        await store.MigrateAsync();
        for (var i = 0; i < records.Length; i += 600)
        {
            await store.WriteBatchAsync(records[i..(i + 600)]);
        }

        return (store, records);
    }

    private async Task<Dictionary<string, int>> PublishedIdsAsync()
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(Folder, "*.jsonl"))
        {
            await foreach (var (row, _) in LedgerExportFile.ReadAsync(path, LedgerExportFormat.Jsonl))
            {
                ids[row.Id] = ids.GetValueOrDefault(row.Id) + 1;
            }
        }

        return ids;
    }

    [Fact]
    public async Task Old_months_are_exported_and_their_partitions_dropped_whole_and_the_audit_keeps_their_spend()
    {
        var (store, records) = await SeedAsync();
        await using var _ = store;
        var older = records.Where(r => r.Timestamp < Cut).ToList();
        var audit = new AuditOptions { To = Cut, BaselineModel = "claude-opus-4-5", RoutingStart = T0, RecentCount = 0, SessionWindow = TimeSpan.FromTicks(1) };
        var before = await AuditRunner.RunAsync(store, PriceBook.Default, audit);
        var rollupsBefore = LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync(store));
        var newer = await store.GetTotalsAsync(new LedgerQuery { From = Cut });
        Assert.Contains(await store.ListPartitionsAsync(), p => p.Name == "ledger_records_y2026m03");

        var result = await new LedgerRetention(store, Options(), new FakeTimeProvider(Now)).RunOnceAsync();

        Assert.Equal((2, (long)older.Count, (long)older.Count), (result.Files, result.RowsExported, result.RowsPruned));
        Assert.Equal(2, result.PartitionsDropped); // March and April, each holding exactly its file's rows
        var partitions = (await store.ListPartitionsAsync()).Select(p => p.Name).ToList();
        Assert.DoesNotContain("ledger_records_y2026m03", partitions);
        Assert.DoesNotContain("ledger_records_y2026m04", partitions);
        Assert.Contains("ledger_records_y2026m05", partitions);
        Assert.Equal(0, await store.CountAsync(new LedgerQuery { To = Cut }));
        Assert.Equal(newer, await store.GetTotalsAsync(new LedgerQuery { From = Cut }));
        Assert.Equal(rollupsBefore, LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync(store)));
        var after = await AuditRunner.RunAsync(store, PriceBook.Default, audit);
        Assert.Equal((before.Calls, before.TotalUsd), (after.Calls, after.TotalUsd));
        var ids = await PublishedIdsAsync();
        Assert.Equal(older.Select(r => r.Id).Order(StringComparer.Ordinal), ids.Keys.Order(StringComparer.Ordinal));
        Assert.All(ids, pair => Assert.Equal(1, pair.Value));
        // The exact money of each file: its manifest's total is the sum of its month's recorded costs.
        var march = LedgerRetentionManifest.Load(Path.Combine(Folder, "ledger-2026-03.jsonl.manifest.json"));
        Assert.Equal(older.Where(r => r.Timestamp.Month == 3).Sum(r => r.Cost?.Total ?? 0m), march.Contents.CostTotal);
    }

    [Theory]
    [InlineData("manifest")] // the file is written and verified, its manifest flushed; not yet renamed, nothing pruned
    [InlineData("published")] // renamed into the folder; nothing pruned yet
    [InlineData("deleted")] // part of a month deleted by rows (a late row kept its partition from being dropped)
    public async Task A_crash_between_export_and_prune_loses_nothing_and_the_restart_exports_no_row_twice(string step)
    {
        var (store, records) = await SeedAsync();
        await using var _ = store;
        var all = records.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        var older = records.Where(r => r.Timestamp < Cut).Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        var retention = new LedgerRetention(store, Options(), new FakeTimeProvider(Now));
        var crashed = false;
        retention.Fault = async at =>
        {
            if (at == "exported" && step == "deleted" && !crashed)
            {
                // After March's file is written, a late March row lands (not in the file): the partition no longer matches
                // the file, so its rows are deleted by batches (97 rows each) and the crash comes after the first batch;
                // the restart finishes them, exports the late row to ledger-2026-03.2.jsonl, then drops the emptied month.
                await store.WriteBatchAsync([records[5] with { Id = "late-march", Timestamp = new DateTimeOffset(2026, 3, 20, 0, 0, 0, TimeSpan.Zero) }]);
                all.Add("late-march");
                older.Add("late-march");
            }

            if (at == step && !crashed)
            {
                crashed = true;
                throw new IOException("injected crash at " + step);
            }
        };

        await Assert.ThrowsAsync<IOException>(() => retention.RunOnceAsync());

        var inLedger = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            inLedger.Add(record.Id);
        }

        var onDisk = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(Folder, "*.jsonl", SearchOption.AllDirectories))
        {
            await foreach (var (row, _) in LedgerExportFile.ReadAsync(path, LedgerExportFormat.Jsonl))
            {
                onDisk.Add(row.Id);
            }
        }

        Assert.DoesNotContain(all, id => !inLedger.Contains(id) && !onDisk.Contains(id)); // nothing lost

        // Another replica (a new store on the same database) restarts the work from the same shared folder.
        await using var replica = new PostgresLedgerStore(ConnectionString);
        await replica.MigrateAsync();
        await new LedgerRetention(replica, Options(), new FakeTimeProvider(Now)).RunOnceAsync();

        var ids = await PublishedIdsAsync();
        Assert.Equal(older.Order(StringComparer.Ordinal), ids.Keys.Order(StringComparer.Ordinal));
        Assert.All(ids, pair => Assert.Equal(1, pair.Value)); // no row in two files
        Assert.Equal(0, await replica.CountAsync(new LedgerQuery { To = Cut }));
        Assert.Equal(all.Count - older.Count, await replica.CountAsync(LedgerQuery.All));
        Assert.DoesNotContain("ledger_records_y2026m03", (await replica.ListPartitionsAsync()).Select(p => p.Name)); // emptied, then dropped
    }

    [Fact]
    public async Task With_two_replicas_only_the_one_holding_the_advisory_lock_runs()
    {
        var (store, records) = await SeedAsync();
        await using var _ = store;
        await using var replica = new PostgresLedgerStore(ConnectionString);
        await replica.MigrateAsync();

        await using (var held = await store.TryLockRetentionAsync())
        {
            Assert.NotNull(held);
            var skipped = await new LedgerRetention(replica, Options(), new FakeTimeProvider(Now)).RunOnceAsync();
            Assert.False(skipped.Ran);
            Assert.Equal(records.Length, await replica.CountAsync(LedgerQuery.All));
            Assert.Empty(Directory.EnumerateFiles(Folder, "*.jsonl"));
        }

        var ran = await new LedgerRetention(replica, Options(), new FakeTimeProvider(Now)).RunOnceAsync();
        Assert.True(ran.Ran);
        Assert.Equal(2, ran.Files);
    }
}
