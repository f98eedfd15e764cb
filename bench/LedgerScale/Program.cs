using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;

// Usage: dotnet run -c Release -- ROWS [DB]. ROWS calls spread evenly over the 30 days before 2026-12-01, written in
// batches of 1,000 through SqliteLedgerStore (rollups and all); then the dashboard's audit (14 days, 25 recent calls,
// sessions of the last day) and a 30-day audit, from rollups and from raw rows.
var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
var path = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), $"modelmix-scale-{rows}.db");
var end = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
var start = end.AddDays(-30);
var spacing = TimeSpan.FromTicks((end - start).Ticks / rows);
File.Delete(path);
await using (var store = new SqliteLedgerStore(path))
{
    await store.MigrateAsync();
    var random = new Random(42);
    var write = Stopwatch.StartNew();
    var batch = new LedgerRecord[1_000];
    for (var i = 0; i < rows; i += batch.Length)
    {
        var n = Math.Min(batch.Length, rows - i);
        for (var j = 0; j < n; j++)
        {
            batch[j] = LedgerTraffic.One(random, i + j, start + (spacing * (i + j)), "b");
        }

        await store.WriteBatchAsync(n == batch.Length ? batch : batch[..n]);
    }

    Console.WriteLine($"write: {rows:N0} rows in {write.Elapsed.TotalSeconds:F1} s = {rows / write.Elapsed.TotalSeconds:N0} rows/s (rollups included)");
}

SqliteConnection.ClearAllPools();
using (var connection = new SqliteConnection($"Data Source={path}"))
{
    connection.Open();
    using var checkpoint = connection.CreateCommand();
    checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
    checkpoint.ExecuteNonQuery();
    long Scalar(string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    var rollupRows = Scalar("SELECT COUNT(*) FROM ledger_rollups;");
    var bytes = new FileInfo(path).Length;
    long Table(string name) => Scalar($"SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = '{name}' OR name IN (SELECT name FROM sqlite_master WHERE tbl_name = '{name}' AND type = 'index');");
    long raw = 0, rollup = 0;
    try
    {
        raw = Table("ledger_records");
        rollup = Table("ledger_rollups");
    }
    catch (SqliteException)
    {
        // dbstat is not compiled into every SQLite build.
    }

    Console.WriteLine($"disk: {bytes / (double)rows:F0} bytes per raw row overall (file {bytes / 1_048_576.0:F1} MiB); ledger_rollups {rollupRows:N0} rows" +
        (raw > 0 ? $"; ledger_records+indexes {raw / (double)rows:F0} B/row; ledger_rollups {rollup / 1_048_576.0:F1} MiB ({rollup / (double)rows:F1} B per raw row)" : " (dbstat unavailable: no per-table split)"));
}

await using (var store = new SqliteLedgerStore(path))
{
    await store.MigrateAsync();
    var prices = PriceBook.Default;
    var now = end.AddMinutes(-7);
    var dashboard = new AuditOptions { From = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero).AddDays(-13), To = now.AddTicks(1), RecentCount = 25, SessionWindow = TimeSpan.FromDays(1) };
    var audit30 = new AuditOptions { From = start, To = end };
    var runs = new List<(string, AuditOptions)> { ("dashboard (14 days)", dashboard), ("audit 30 days", audit30) };
    if (rows <= 2_000_000)
    {
        runs.Add(("audit 30 days, raw rows", audit30 with { UseRollups = false })); // minutes at 10M: skipped
    }

    foreach (var (name, options) in runs)
    {
        var times = new List<double>();
        for (var run = 0; run < (options.UseRollups ? (rows > 2_000_000 ? 3 : 5) : 1); run++)
        {
            var watch = Stopwatch.StartNew();
            var report = await AuditRunner.RunAsync(store, prices, options);
            times.Add(watch.Elapsed.TotalMilliseconds);
            if (run == 0)
            {
                Console.Write($"{name}: {report.Calls:N0} calls, ${report.TotalUsd:N2}; ");
            }
        }

        times.Sort();
        Console.WriteLine($"median {times[times.Count / 2]:N0} ms, max {times[^1]:N0} ms over {times.Count} run(s)");
    }
}

// Export then prune the first EXPORT_DAYS days (default 2: a fifteenth of the rows), as `modelmix ledger prune` does.
var days = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2;
var exportPath = path + ".export.jsonl";
File.Delete(exportPath);
File.Delete(LedgerExporter.StatePath(exportPath));
await using (var store = new SqliteLedgerStore(path))
{
    await store.MigrateAsync();
    var cut = start.AddDays(days);
    var watch = Stopwatch.StartNew();
    var export = await LedgerExporter.ExportAsync(store, new LedgerExportOptions { Path = exportPath, To = cut });
    var exportSeconds = watch.Elapsed.TotalSeconds;
    Console.WriteLine($"export: {export.Rows:N0} rows ({days} days) in {exportSeconds:F1} s = {export.Rows / exportSeconds:N0} rows/s, {export.Bytes / (double)export.Rows:F0} B per JSONL row");
    var sizeBefore = new FileInfo(path).Length;
    watch.Restart();
    var pruned = await LedgerPruner.PruneAsync(store, new LedgerPruneOptions { Before = cut, ExportPath = exportPath });
    var pruneSeconds = watch.Elapsed.TotalSeconds;
    Console.WriteLine($"prune (verify the export + delete in batches of 5,000): {pruned.Deleted:N0} rows in {pruneSeconds:F1} s = {pruned.Deleted / pruneSeconds:N0} rows/s; " +
        $"file {sizeBefore / 1_048_576.0:F1} MiB before, {new FileInfo(path).Length / 1_048_576.0:F1} MiB after (freed pages are reused, not returned: VACUUM shrinks)");
    var audit = new AuditOptions { From = start, To = cut, RecentCount = 0 };
    watch.Restart();
    var report = await AuditRunner.RunAsync(store, PriceBook.Default, audit);
    Console.WriteLine($"audit of the pruned days from rollups: {report.Calls:N0} calls, ${report.TotalUsd:N2} in {watch.Elapsed.TotalMilliseconds:N0} ms");
}
