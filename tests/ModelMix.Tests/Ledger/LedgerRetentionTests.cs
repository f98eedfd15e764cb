using Microsoft.Extensions.Time.Testing;
using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// Automatic retention (<see cref="LedgerRetention"/>, docs/ledger.md "Automatic retention") on a real SQLite file with
/// a fake clock: whole months older than RawAge are exported to one file each and pruned, the rollups kept; a crash at
/// any step loses no row and writes none twice; late rows go to a numbered second file; one run at a time.
/// </summary>
public sealed class LedgerRetentionTests : IDisposable
{
    // 2,000 calls, one every 61 minutes, from 1 March 2026 22:17 UTC: through about 24 May.
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 22, 17, 0, TimeSpan.Zero);

    // Now 15 June; RawAge 30 days: now − 30 days is 16 May, whose month starts 1 May, the cut.
    private static readonly DateTimeOffset Now = new(2026, 6, 15, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Cut = new(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    private string ExportFolder => Path.Combine(_db.Folder, "retained");

    private LedgerRetentionOptions Options(LedgerRetentionPeriod period = LedgerRetentionPeriod.Month, int batchSize = 5_000) => new()
    {
        Enabled = true,
        RawAge = TimeSpan.FromDays(30),
        ExportFolder = ExportFolder,
        Period = period,
        BatchSize = batchSize,
    };

    private async Task<(SqliteLedgerStore Store, LedgerRecord[] Records)> SeedAsync()
    {
        var records = LedgerTraffic.Generate(2_000, seed: 53, T0, TimeSpan.FromMinutes(61));
        var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        for (var i = 0; i < records.Length; i += 500)
        {
            await store.WriteBatchAsync(records[i..Math.Min(i + 500, records.Length)]);
        }

        return (store, records);
    }

    /// <summary>Every row id in the folder's published and staging export files, with how many times each appears.</summary>
    private async Task<Dictionary<string, int>> ExportedIdsAsync(bool includeStaging = true)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var folders = includeStaging ? new[] { ExportFolder, Path.Combine(ExportFolder, ".staging") } : [ExportFolder];
        foreach (var folder in folders.Where(Directory.Exists))
        {
            foreach (var path in Directory.EnumerateFiles(folder).Where(p => p.EndsWith(".jsonl", StringComparison.Ordinal) || p.EndsWith(".csv", StringComparison.Ordinal)))
            {
                var format = path.EndsWith(".csv", StringComparison.Ordinal) ? LedgerExportFormat.Csv : LedgerExportFormat.Jsonl;
                await foreach (var (row, _) in LedgerExportFile.ReadAsync(path, format))
                {
                    ids[row.Id] = ids.GetValueOrDefault(row.Id) + 1;
                }
            }
        }

        return ids;
    }

    private static async Task<HashSet<string>> LedgerIdsAsync(SqliteLedgerStore store)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            ids.Add(record.Id);
        }

        return ids;
    }

    [Fact]
    public async Task Whole_months_older_than_raw_age_are_exported_one_file_each_then_pruned_and_the_audit_keeps_their_spend()
    {
        var (store, records) = await SeedAsync();
        await using var _ = store;
        var older = records.Where(r => r.Timestamp < Cut).ToList();
        var audit = new AuditOptions { To = Cut, BaselineModel = "claude-opus-4-5", RoutingStart = T0, RecentCount = 0, SessionWindow = TimeSpan.FromTicks(1) };
        var before = await AuditRunner.RunAsync(store, PriceBook.Default, audit);
        var rollupsBefore = LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync(store));
        var newer = await store.GetTotalsAsync(new LedgerQuery { From = Cut });
        var metrics = new LedgerRetentionMetrics();
        var retention = new LedgerRetention(store, Options(), new FakeTimeProvider(Now), metrics: metrics);

        var result = await retention.RunOnceAsync();

        Assert.True(result.Ran);
        Assert.Equal(Cut, result.Cut);
        Assert.Equal(2, result.Files); // March and April 2026; May is newer than the cut
        Assert.Equal(older.Count, result.RowsExported);
        Assert.Equal(older.Count, result.RowsPruned);
        Assert.Equal(Cut, LedgerRetentionSpan.Of(result.RawFrom!.Value, LedgerRetentionPeriod.Month).From); // raw rows now from May
        Assert.Equal(0, await store.CountAsync(new LedgerQuery { To = Cut }));
        Assert.Equal(newer, await store.GetTotalsAsync(new LedgerQuery { From = Cut })); // newer rows untouched
        Assert.Equal(rollupsBefore, LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync(store))); // rollups kept
        var after = await AuditRunner.RunAsync(store, PriceBook.Default, audit);
        Assert.Equal((before.Calls, before.TotalUsd), (after.Calls, after.TotalUsd));

        // One file per month, named by it, holding exactly that month's rows; its manifest says so, pruned.
        foreach (var (name, month) in new[] { ("ledger-2026-03.jsonl", 3), ("ledger-2026-04.jsonl", 4) })
        {
            var path = Path.Combine(ExportFolder, name);
            var expected = older.Where(r => r.Timestamp.Month == month).ToList();
            var ids = new List<string>();
            await foreach (var (row, _) in LedgerExportFile.ReadAsync(path, LedgerExportFormat.Jsonl))
            {
                ids.Add(row.Id);
            }

            Assert.Equal(expected.Select(r => r.Id).Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
            var manifest = LedgerRetentionManifest.Load(path + ".manifest.json");
            Assert.True(manifest.Pruned);
            Assert.Equal(expected.Count, manifest.Contents.Rows);
            Assert.Equal(expected.Sum(r => r.Cost?.Total ?? 0m), manifest.Contents.CostTotal);
            Assert.Equal(await LedgerRetentionFiles.Sha256Async(path, default), manifest.Sha256);
        }

        Assert.Empty(Directory.EnumerateFiles(Path.Combine(ExportFolder, ".staging")));
        Assert.Equal(older.Count, (await ExportedIdsAsync()).Count);

        // The audit says from when raw rows are kept when its range reaches before them, and nothing when it does not.
        var rawFrom = records.Where(r => r.Timestamp >= Cut).Min(r => r.Timestamp);
        Assert.Equal(rawFrom, await LedgerRawWindow.OldestRawRowAsync(store));
        var whole = await AuditRunner.RunAsync(store, PriceBook.Default, new AuditOptions { RecentCount = 0 });
        Assert.StartsWith($"Raw ledger rows from {rawFrom.UtcDateTime:yyyy-MM-dd HH:mm} UTC", LedgerRawWindow.Note(rawFrom, whole.FirstRecord), StringComparison.Ordinal);
        var recent = await AuditRunner.RunAsync(store, PriceBook.Default, new AuditOptions { From = Cut, RecentCount = 0 });
        Assert.Null(LedgerRawWindow.Note(rawFrom, recent.FirstRecord));

        // Run again: nothing is due, nothing changes.
        var again = await retention.RunOnceAsync();
        Assert.Equal((0, 0L, 0L), (again.Files, again.RowsExported, again.RowsPruned));
        Assert.Equal(older.Count, (await ExportedIdsAsync()).Count);
        Assert.NotNull(metrics.LastSuccess);
    }

    [Fact]
    public async Task A_late_row_of_a_pruned_month_goes_to_a_second_file_never_into_the_first_again()
    {
        var (store, records) = await SeedAsync();
        await using var _ = store;
        var retention = new LedgerRetention(store, Options(), new FakeTimeProvider(Now));
        await retention.RunOnceAsync();
        var first = await File.ReadAllBytesAsync(Path.Combine(ExportFolder, "ledger-2026-04.jsonl"));

        // A row of April arrives after April was exported and pruned (a reconciled intent, a late batch result).
        var late = records[1_000] with { Id = "late-april", Timestamp = new DateTimeOffset(2026, 4, 10, 8, 0, 0, TimeSpan.Zero) };
        await store.WriteBatchAsync([late]);
        var result = await retention.RunOnceAsync();

        Assert.Equal((1, 1L, 1L), (result.Files, result.RowsExported, result.RowsPruned));
        Assert.Equal(first, await File.ReadAllBytesAsync(Path.Combine(ExportFolder, "ledger-2026-04.jsonl"))); // the first file is never rewritten
        var second = new List<string>();
        await foreach (var (row, _) in LedgerExportFile.ReadAsync(Path.Combine(ExportFolder, "ledger-2026-04.2.jsonl"), LedgerExportFormat.Jsonl))
        {
            second.Add(row.Id);
        }

        Assert.Equal(["late-april"], second);
        var ids = await ExportedIdsAsync();
        Assert.All(ids, pair => Assert.Equal(1, pair.Value)); // every row in exactly one file
        Assert.Equal(records.Count(r => r.Timestamp < Cut) + 1, ids.Count);
    }

    [Theory]
    [InlineData("exported", 1)]
    [InlineData("manifest", 1)]
    [InlineData("published", 1)]
    [InlineData("deleted", 1)] // after the first delete batch of March
    [InlineData("deleted", 9)] // after April's first batch
    [InlineData("published", 2)] // after April is published, March pruned already
    public async Task A_crash_at_any_step_loses_no_row_and_the_next_run_finishes_without_writing_a_row_twice(string step, int occurrence)
    {
        var (store, records) = await SeedAsync();
        await using var _ = store;
        var older = records.Where(r => r.Timestamp < Cut).Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        var all = records.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        var retention = new LedgerRetention(store, Options(batchSize: 100), new FakeTimeProvider(Now));
        var seen = 0;
        retention.Fault = at => at == step && ++seen == occurrence ? throw new IOException($"injected crash at {step} #{occurrence}") : ValueTask.CompletedTask;

        var crash = await Assert.ThrowsAsync<IOException>(() => retention.RunOnceAsync());
        Assert.Contains("injected", crash.Message, StringComparison.Ordinal);

        // Nothing lost: every row is in the ledger or in an export file on disk (published or staging).
        var inLedger = await LedgerIdsAsync(store);
        var inFiles = await ExportedIdsAsync();
        Assert.DoesNotContain(all, id => !inLedger.Contains(id) && !inFiles.ContainsKey(id));
        Assert.All(inFiles, pair => Assert.Equal(1, pair.Value));

        // The next run (a restarted process: a new runner, no fault) finishes: each old row in exactly one published
        // file, none left in the ledger, the newer rows untouched, no staging file left.
        var restarted = new LedgerRetention(store, Options(batchSize: 100), new FakeTimeProvider(Now));
        await restarted.RunOnceAsync();
        var published = await ExportedIdsAsync(includeStaging: false);
        Assert.Equal(older.Order(StringComparer.Ordinal), published.Keys.Order(StringComparer.Ordinal));
        Assert.All(published, pair => Assert.Equal(1, pair.Value));
        Assert.Equal(all.Except(older).Order(StringComparer.Ordinal), (await LedgerIdsAsync(store)).Order(StringComparer.Ordinal));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(ExportFolder, ".staging")));
        Assert.All(Directory.EnumerateFiles(ExportFolder, "*.manifest.json"), path => Assert.True(LedgerRetentionManifest.Load(path).Pruned));
        Assert.Equal(["ledger-2026-03.jsonl", "ledger-2026-04.jsonl"], Directory.EnumerateFiles(ExportFolder, "*.jsonl").Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Day_periods_write_one_csv_per_day_and_keep_the_days_younger_than_raw_age()
    {
        var (store, records) = await SeedAsync();
        await using var _ = store;
        var options = Options(LedgerRetentionPeriod.Day);
        options.Format = LedgerExportFormat.Csv;
        var retention = new LedgerRetention(store, options, new FakeTimeProvider(Now));

        var result = await retention.RunOnceAsync();

        // now − 30 days = 16 May 12:00; the cut is that day's start.
        var cut = new DateTimeOffset(2026, 5, 16, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(cut, result.Cut);
        var older = records.Where(r => r.Timestamp < cut).ToList();
        Assert.Equal(older.Count, result.RowsPruned);
        Assert.Equal(older.Select(r => r.Timestamp.UtcDateTime.Date).Distinct().Count(), result.Files);
        Assert.True(File.Exists(Path.Combine(ExportFolder, "ledger-2026-03-01.csv")));
        Assert.True(File.Exists(Path.Combine(ExportFolder, "ledger-2026-05-15.csv")));
        Assert.False(File.Exists(Path.Combine(ExportFolder, "ledger-2026-05-16.csv")));
        Assert.Equal(older.Count, (await ExportedIdsAsync()).Count);
        Assert.Equal(records.Length - older.Count, await store.CountAsync(LedgerQuery.All));
    }

    [Fact]
    public async Task Only_one_run_at_a_time_holds_the_retention_lock()
    {
        var (store, records) = await SeedAsync();
        await using var _ = store;
        var retention = new LedgerRetention(store, Options(), new FakeTimeProvider(Now));

        await using (var held = await store.TryLockRetentionAsync())
        {
            Assert.NotNull(held);
            Assert.Null(await store.TryLockRetentionAsync()); // another open of the lock file is refused
            var skipped = await retention.RunOnceAsync();
            Assert.False(skipped.Ran);
            Assert.Equal(records.Length, await store.CountAsync(LedgerQuery.All));
        }

        var ran = await retention.RunOnceAsync();
        Assert.True(ran.Ran);
        Assert.Equal(2, ran.Files);
    }

    [Fact]
    public void Options_name_the_key_of_each_invalid_value()
    {
        var failures = new LedgerRetentionOptions
        {
            Enabled = true,
            RawAge = TimeSpan.FromDays(3),
            Interval = TimeSpan.FromSeconds(5),
            BatchSize = 0,
        }.GetValidationFailures();

        Assert.Contains(failures, f => f.StartsWith("ModelMix:Ledger:Retention:RawAge must be at least 7 days", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("ModelMix:Ledger:Retention:ExportFolder must name the folder", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("ModelMix:Ledger:Retention:Interval", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("ModelMix:Ledger:Retention:BatchSize", StringComparison.Ordinal));
        Assert.Equal(4, failures.Count);
        Assert.Empty(new LedgerRetentionOptions().GetValidationFailures()); // the defaults: off, 90 days
        Assert.False(new LedgerRetentionOptions().Enabled);
        Assert.Equal(TimeSpan.FromDays(90), new LedgerRetentionOptions().RawAge);
    }
}
