using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;
using Npgsql;

// Usage: dotnet run -c Release -- ROWS [DB] [EXPORT_DAYS] [--reuse]. ROWS calls spread evenly over the 30 days before
// 2026-12-01, written in batches of 1,000 through the store's writer (rollups and all); then the dashboard's audit (14
// days, 25 recent calls, sessions of the last day) 20 times and a 30-day audit, from rollups (and from raw rows up to 2M
// rows); then export and prune EXPORT_DAYS days. DB is a SQLite file, or an Npgsql connection string ("Host=…") for the
// PostgreSQL store (partitioned by month). --reuse: keep the rows already written (measure only).
var positional = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
var reuse = args.Contains("--reuse");
// --dashboard-runs=N (default 20), --audit-runs=N (default 5; 0 skips the 30-day audit), --no-prune (skip export/prune),
// --no-day-cache (the dashboard without AuditDayCache: every view reads every day).
int Option(string name, int fallback) => args.FirstOrDefault(a => a.StartsWith(name + "=", StringComparison.Ordinal)) is { } o ? int.Parse(o[(name.Length + 1)..], CultureInfo.InvariantCulture) : fallback;
var dashboardRuns = Option("--dashboard-runs", 20);
// --pg-pid=PID: the postmaster's pid, so the CPU time of its backends counts with this process's (Linux /proc).
var serverPid = Option("--pg-pid", 0);

// CPU time used so far (ms): this process, and the children of the postmaster when --pg-pid is given. On a loaded host
// the wall time of a view is an upper bound; its CPU time is what an idle host would need (both recorded).
// The client's time is read after the walk of /proc when starting a measure and before it when ending one, so the walk
// itself (hundreds of files on a busy host) is never counted in a view's CPU (earlier rounds' figures included one walk).
(double Client, double Server, double Backend) Cpu(bool start = false)
{
    var client = start ? 0 : Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
    double server = 0, backend = 0;
    if (serverPid > 0)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == serverPid)
                {
                    var ms = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 10.0; // clock ticks (100 Hz)
                    server += ms;
                    // A client backend's title names its client ("postgres: user db 127.0.0.1(port) idle"); the rest are
                    // the cluster's own processes (checkpointer, background writer, autovacuum, ...), split out because
                    // their work is not the view's.
                    if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains('(', StringComparison.Ordinal))
                    {
                        backend += ms;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // a process that ended meanwhile
            }
        }
    }

    return (start ? Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds : client, server, backend);
}

var auditRuns = Option("--audit-runs", 5);
var rows = positional.Length > 0 ? int.Parse(positional[0], CultureInfo.InvariantCulture) : 1_000_000;
var path = positional.Length > 1 ? positional[1] : Path.Combine(Path.GetTempPath(), $"modelmix-scale-{rows}.db");
var postgres = path.StartsWith("Host=", StringComparison.OrdinalIgnoreCase);
var end = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
var start = end.AddDays(-30);
var spacing = TimeSpan.FromTicks((end - start).Ticks / rows);
Console.WriteLine($"{DateTimeOffset.UtcNow:u} load average {File.ReadAllText("/proc/loadavg").Trim()}");

async Task<ILedgerStore> OpenAsync()
{
    ILedgerStore store = postgres ? new PostgresLedgerStore(path) : new SqliteLedgerStore(path);
    var watch = Stopwatch.StartNew();
    await store.MigrateAsync();
    if (watch.Elapsed > TimeSpan.FromSeconds(1))
    {
        Console.WriteLine($"migrate: {watch.Elapsed.TotalSeconds:F1} s (schema steps pending on this database, e.g. a rollup backfill); load {File.ReadAllText("/proc/loadavg").Trim()}");
    }

    return store;
}

if (!reuse)
{
    if (postgres)
    {
        await using var connection = new NpgsqlConnection(path);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand("DROP TABLE IF EXISTS ledger_records, ledger_rollups, ledger_rollups_daily, ledger_session_hours, ledger_intents, ledger_instances, shadow_pairs, modelmix_schema_versions CASCADE; DROP SEQUENCE IF EXISTS ledger_records_seq;", connection);
        await drop.ExecuteNonQueryAsync();
    }
    else
    {
        File.Delete(path);
    }

    await using var store = await OpenAsync();
    var random = new Random(42);
    var write = Stopwatch.StartNew();
    // PostgreSQL: batches of 10,000 (one COPY, one move and one rollup upsert each: fewer round trips per row).
    var batch = new LedgerRecord[postgres ? 10_000 : 1_000];
    for (var i = 0; i < rows; i += batch.Length)
    {
        var n = Math.Min(batch.Length, rows - i);
        for (var j = 0; j < n; j++)
        {
            batch[j] = LedgerTraffic.One(random, i + j, start + (spacing * (i + j)), "b");
        }

        await store.WriteBatchAsync(n == batch.Length ? batch : batch[..n]);
        if ((i + n) % 500_000 == 0)
        {
            Console.WriteLine($"  {i + n:N0} rows, {(i + n) / write.Elapsed.TotalSeconds:N0} rows/s, load {File.ReadAllText("/proc/loadavg").Trim()}");
        }
    }

    Console.WriteLine($"write: {rows:N0} rows in {write.Elapsed.TotalSeconds:F1} s = {rows / write.Elapsed.TotalSeconds:N0} rows/s (rollups included)");
}

if (reuse)
{
    await using var migrated = await OpenAsync(); // schema steps pending on the kept database run first (timed)
}

if (postgres)
{
    await using var connection = new NpgsqlConnection(path);
    await connection.OpenAsync();
    foreach (var table in (string[])["ledger_records", "ledger_rollups", "ledger_rollups_daily"])
    {
        await using var analyze = new NpgsqlCommand($"VACUUM ANALYZE {table};", connection);
        await analyze.ExecuteNonQueryAsync();
    }

    async Task<long> Scalar(string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    var stored = await Scalar("SELECT COUNT(*) FROM ledger_records;");
    var partitions = await Scalar("SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'ledger_records'::regclass;");
    var heap = await Scalar("SELECT COALESCE(SUM(pg_table_size(inhrelid)), 0) FROM pg_inherits WHERE inhparent = 'ledger_records'::regclass;");
    var indexes = await Scalar("SELECT COALESCE(SUM(pg_indexes_size(inhrelid)), 0) FROM pg_inherits WHERE inhparent = 'ledger_records'::regclass;");
    var rollup = await Scalar("SELECT pg_total_relation_size('ledger_rollups');");
    var rollupRows = await Scalar("SELECT COUNT(*) FROM ledger_rollups;");
    var daily = await Scalar("SELECT pg_total_relation_size('ledger_rollups_daily');");
    var dailyRows = await Scalar("SELECT COUNT(*) FROM ledger_rollups_daily;");
    var database = await Scalar("SELECT pg_database_size(current_database());");
    Console.WriteLine($"disk: {stored:N0} raw rows in {partitions} partition(s): table {heap / (double)stored:F0} B/row + indexes {indexes / (double)stored:F0} B/row = {(heap + indexes) / (double)stored:F0} B/row; " +
        $"ledger_rollups {rollupRows:N0} rows, {rollup / 1_048_576.0:F1} MiB ({rollup / (double)stored:F1} B per raw row); " +
        $"ledger_rollups_daily {dailyRows:N0} rows, {daily / 1_048_576.0:F1} MiB ({daily / (double)stored:F1} B per raw row); database {database / 1_048_576.0:F0} MiB");
    await using var indexList = new NpgsqlCommand(
        "SELECT p.relname, SUM(pg_relation_size(t.relid))::bigint FROM pg_index x JOIN pg_class p ON p.oid = x.indexrelid, pg_partition_tree(x.indexrelid) t " +
        "WHERE x.indrelid = 'ledger_records'::regclass GROUP BY p.relname ORDER BY 1;", connection);
    await using var reader = await indexList.ExecuteReaderAsync();
    while (await reader.ReadAsync())
    {
        Console.WriteLine($"  index {reader.GetString(0)}: {reader.GetInt64(1) / (double)stored:F1} B/row");
    }
}
else
{
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
        var dailyRows = Scalar("SELECT COUNT(*) FROM ledger_rollups_daily;");
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

        Console.WriteLine($"disk: {bytes / (double)rows:F0} bytes per raw row overall (file {bytes / 1_048_576.0:F1} MiB); ledger_rollups {rollupRows:N0} rows, ledger_rollups_daily {dailyRows:N0} rows" +
            (raw > 0 ? $"; ledger_records+indexes {raw / (double)rows:F0} B/row; ledger_rollups {rollup / 1_048_576.0:F1} MiB ({rollup / (double)rows:F1} B per raw row)" : " (dbstat unavailable: no per-table split)"));
    }
}

await using (var store = await OpenAsync())
{
    var prices = PriceBook.Default;
    // A server's view is asked at "now", after every row it shows was written: today's calls all lie before its end, so
    // today comes from its daily rows. The view is asked just before midnight, after the last generated call (each
    // 30 days / ROWS apart), so today is not a whole day yet. --rows-after-now: the view of earlier rounds, 7 minutes
    // before the last calls — rows after the view's end, which a live server does not have (its clock only moves on),
    // make today's part of the range read from hourly rows and raw rows instead (≈ 14,000 hourly and 12,000 raw rows at 10M).
    var now = args.Contains("--rows-after-now") ? end.AddMinutes(-7) : end.AddTicks(-2);
    var dashboard = new AuditOptions { From = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero).AddDays(-13), To = now.AddTicks(1), RecentCount = 25, SessionWindow = TimeSpan.FromDays(1), TaskLatency = false, DayCache = args.Contains("--no-day-cache") ? null : new AuditDayCache() }; // as DashboardEndpoint asks
    var audit30 = new AuditOptions { From = start, To = end };
    if (args.Contains("--probe") && store is ILedgerRollupStore probe)
    {
        // Where a dashboard view's time goes: the rollup rows read alone, then each raw-row query alone. The sessions are
        // asked from the hour the audit starts its session window at (the last day, rounded down to the hour), so they are
        // read from the per-session hourly rows as a view reads them, not from raw rows.
        var sessionsFrom = LedgerRollupReader.FloorHour(dashboard.To!.Value.AddDays(-1));
        var sessionsFromTime = SqliteLedgerSchema.FromStoredTimestamp(sessionsFrom);
        for (var run = 0; run < 3; run++)
        {
            var watch = Stopwatch.StartNew();
            long n = 0;
            await foreach (var row in probe.ReadRollupsAsync(dashboard.From, dashboard.To))
            {
                n++;
            }

            var read = watch.Elapsed.TotalMilliseconds;
            watch.Restart();
            long dailyRows = 0;
            await foreach (var row in probe.ReadDailyRollupsAsync(dashboard.From, dashboard.To))
            {
                dailyRows++;
            }

            var dailyMs = watch.Elapsed.TotalMilliseconds;
            watch.Restart();
            var sessions = 0;
            await foreach (var s in probe.ReadSessionSummariesAsync(sessionsFromTime, dashboard.To))
            {
                sessions++;
            }

            var sessionMs = watch.Elapsed.TotalMilliseconds;
            watch.Restart();
            await foreach (var t in probe.ReadFirstAttemptP95LatencyAsync(dashboard.To!.Value.AddDays(-1), dashboard.To))
            {
            }

            var p95Ms = watch.Elapsed.TotalMilliseconds;
            watch.Restart();
            var escalated = await probe.CountEscalatedRequestsAsync(dashboard.From, dashboard.To);
            var escalationsMs = watch.Elapsed.TotalMilliseconds;
            watch.Restart();
            await foreach (var r in probe.ReadLatestAsync(dashboard.From, dashboard.To, 25))
            {
            }

            Console.WriteLine($"probe: {n:N0} hourly rollup rows read in {read:N0} ms; {dailyRows:N0} daily rows in {dailyMs:N0} ms; {sessions} sessions in {sessionMs:N0} ms; p95 latencies {p95Ms:N0} ms; {escalated:N0} escalated requests in {escalationsMs:N0} ms; latest 25 {watch.Elapsed.TotalMilliseconds:N0} ms; load {File.ReadAllText("/proc/loadavg").Trim()}");
        }
    }

    var runs = new List<(string, AuditOptions)>
    {
        ("dashboard (14 days)", dashboard),
        ("audit 30 days (modelmix audit's default: sessions and latency of the last day)", audit30 with { SessionWindow = TimeSpan.FromDays(1) }),
    };
    if (args.Contains("--baseline-given"))
    {
        // Where a view's time goes, continued: the same view with the baseline model and routing start given (no search).
        var found = await AuditRunner.RunAsync(store, prices, dashboard with { DayCache = null });
        var baseline = found.Counterfactuals.FirstOrDefault(c => c.Name == "all-on-baseline")?.Model;
        runs.Add(("dashboard (14 days), baseline given", dashboard with { BaselineModel = baseline, RoutingStart = found.RoutingStart, DayCache = new AuditDayCache() }));
    }

    if (!args.Contains("--no-full-sessions"))
    {
        runs.Add(("audit 30 days, sessions and latency over all 30 days (--session-window all)", audit30));
    }

    if (rows <= 2_000_000)
    {
        runs.Add(("audit 30 days, raw rows", audit30 with { UseRollups = false })); // minutes at 10M: skipped
    }

    foreach (var (name, options) in runs)
    {
        var times = new List<double>();
        var cpu = new List<double>();
        var clientCpu = new List<double>();
        var backendCpu = new List<double>();
        var count = !options.UseRollups ? 1 : name.StartsWith("dashboard", StringComparison.Ordinal) ? dashboardRuns : auditRuns;
        if (count == 0)
        {
            continue;
        }

        if (postgres && args.Contains("--pg-statements"))
        {
            await PgStatementsAsync(reset: true);
        }

        for (var run = 0; run < count; run++)
        {
            // What each view costs besides its time (--each): garbage collections and their pauses, bytes allocated, methods
            // compiled (tiered JIT) and the cluster's CPU split between the view's backend and the cluster's own processes.
            var gcBefore = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration(), GC.GetTotalAllocatedBytes(precise: true));
            var jitBefore = (System.Runtime.JitInfo.GetCompiledMethodCount(), System.Runtime.JitInfo.GetCompilationTime());
            var cpuBefore = Cpu(start: true);
            var watch = Stopwatch.StartNew();
            var report = await AuditRunner.RunAsync(store, prices, options);
            times.Add(watch.Elapsed.TotalMilliseconds);
            var cpuAfter = Cpu();
            cpu.Add(cpuAfter.Client - cpuBefore.Client + cpuAfter.Server - cpuBefore.Server);
            clientCpu.Add(cpuAfter.Client - cpuBefore.Client);
            backendCpu.Add(cpuAfter.Backend - cpuBefore.Backend);
            if (args.Contains("--each"))
            {
                var allocated = GC.GetTotalAllocatedBytes(precise: true) - gcBefore.Item5;
                Console.WriteLine($"  {name} run {run + 1}: {watch.Elapsed.TotalMilliseconds:N0} ms; CPU this process {cpuAfter.Client - cpuBefore.Client:N0} ms" +
                    (serverPid > 0 ? $", backends {cpuAfter.Backend - cpuBefore.Backend:N0} ms, the cluster's own processes {cpuAfter.Server - cpuBefore.Server - (cpuAfter.Backend - cpuBefore.Backend):N0} ms" : string.Empty) +
                    $"; GCs {GC.CollectionCount(0) - gcBefore.Item1}/{GC.CollectionCount(1) - gcBefore.Item2}/{GC.CollectionCount(2) - gcBefore.Item3} (gen 0/1/2), paused {(GC.GetTotalPauseDuration() - gcBefore.Item4).TotalMilliseconds:N0} ms, " +
                    $"{allocated / 1_048_576.0:N1} MiB allocated, heap {GC.GetGCMemoryInfo().HeapSizeBytes / 1_048_576.0:N0} MiB; " +
                    $"JIT {System.Runtime.JitInfo.GetCompiledMethodCount() - jitBefore.Item1} methods in {(System.Runtime.JitInfo.GetCompilationTime() - jitBefore.Item2).TotalMilliseconds:N0} ms; load {File.ReadAllText("/proc/loadavg").Trim()}");
            }
            if (run == 0)
            {
                Console.Write($"{name}: {report.Calls:N0} calls, ${report.TotalUsd:N2}; ");
            }
        }

        var first = times[0]; // a server's first view after start is one a user sees: reported apart, never dropped
        var firstCpu = cpu[0];
        if (times.Count > 2)
        {
            // The steady state (every view after the first): with the day cache, the views a running server gives.
            var rest = times.Skip(1).Order().ToList();
            var restCpu = cpu.Skip(1).Order().ToList();
            // The view's own CPU: this process and the backends serving it, without the cluster's background processes.
            var restOwn = clientCpu.Skip(1).Zip(backendCpu.Skip(1), (a, b) => a + b).Order().ToList();
            Console.Write($"after the first: median {rest[rest.Count / 2]:N0} ms, p95 {rest[Math.Min(rest.Count - 1, (int)Math.Ceiling(rest.Count * 0.95) - 1)]:N0} ms, CPU median {restCpu[restCpu.Count / 2]:N0} ms, p95 {restCpu[Math.Min(restCpu.Count - 1, (int)Math.Ceiling(restCpu.Count * 0.95) - 1)]:N0} ms" +
                (serverPid > 0 ? $" (this process + its backends alone: median {restOwn[restOwn.Count / 2]:N0} ms, p95 {restOwn[Math.Min(restOwn.Count - 1, (int)Math.Ceiling(restOwn.Count * 0.95) - 1)]:N0} ms)" : string.Empty) +
                (options.DayCache is { } dayCache ? $" (day cache: {dayCache.Hits} days read from it, {dayCache.Misses} computed)" : string.Empty) + "; ");
        }

        if (postgres && args.Contains("--pg-statements"))
        {
            await PgStatementsAsync(reset: false);
        }

        times.Sort();
        cpu.Sort();
        clientCpu.Sort();
        Console.WriteLine($"first {first:N0} ms ({firstCpu:N0} ms CPU), median {times[times.Count / 2]:N0} ms, p95 {times[Math.Min(times.Count - 1, (int)Math.Ceiling(times.Count * 0.95) - 1)]:N0} ms, max {times[^1]:N0} ms over {times.Count} run(s); CPU (this process{(serverPid > 0 ? " + the PostgreSQL cluster" : string.Empty)}) median {cpu[cpu.Count / 2]:N0} ms (this process alone: median {clientCpu[clientCpu.Count / 2]:N0} ms), max {cpu[^1]:N0} ms; load {File.ReadAllText("/proc/loadavg").Trim()}");
    }
}

// --pg-statements: the statements of a series by total execution time (pg_stat_statements, when the cluster loads it):
// calls, plans, mean and max per call, shared buffers read from disk — what a slow view spent its server time on.
async Task PgStatementsAsync(bool reset)
{
    await using var connection = new NpgsqlConnection(path);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand(reset
        ? "SELECT pg_stat_statements_reset();"
        : "SELECT calls, plans, total_exec_time, mean_exec_time, max_exec_time, total_plan_time, shared_blks_read, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) " +
          "FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 8;", connection);
    try
    {
        await using var reader = await command.ExecuteReaderAsync();
        while (!reset && await reader.ReadAsync())
        {
            Console.WriteLine($"  pg: {reader.GetInt64(0)} calls ({reader.GetInt64(1)} planned, {reader.GetDouble(5):N0} ms planning), {reader.GetDouble(2):N0} ms in all, mean {reader.GetDouble(3):N1} ms, max {reader.GetDouble(4):N1} ms, {reader.GetInt64(6):N0} blocks read: {reader.GetString(7)}");
        }
    }
    catch (PostgresException ex)
    {
        Console.WriteLine($"  pg_stat_statements unavailable ({ex.SqlState}): start the cluster with shared_preload_libraries=pg_stat_statements and CREATE EXTENSION pg_stat_statements");
    }
}

// Export then prune the first EXPORT_DAYS days (default 2: a fifteenth of the rows), as `modelmix ledger prune` does.
var days = positional.Length > 2 ? int.Parse(positional[2], CultureInfo.InvariantCulture) : 2;
if (args.Contains("--no-prune"))
{
    return;
}

var exportPath = postgres ? Path.Combine(Path.GetTempPath(), $"modelmix-scale-pg-{rows}.export.jsonl") : path + ".export.jsonl";
File.Delete(exportPath);
File.Delete(LedgerExporter.StatePath(exportPath));
await using (var store = await OpenAsync())
{
    var cut = start.AddDays(days);
    var watch = Stopwatch.StartNew();
    var export = await LedgerExporter.ExportAsync((ILedgerExportStore)store, new LedgerExportOptions { Path = exportPath, To = cut });
    var exportSeconds = watch.Elapsed.TotalSeconds;
    Console.WriteLine($"export: {export.Rows:N0} rows ({days} days) in {exportSeconds:F1} s = {export.Rows / exportSeconds:N0} rows/s, {export.Bytes / (double)export.Rows:F0} B per JSONL row");
    var sizeBefore = postgres ? 0 : new FileInfo(path).Length;
    watch.Restart();
    var pruned = await LedgerPruner.PruneAsync(store, new LedgerPruneOptions { Before = cut, ExportPath = exportPath });
    var pruneSeconds = watch.Elapsed.TotalSeconds;
    Console.WriteLine($"prune (verify the export, drop whole partitions, delete the rest in batches of 5,000): {pruned.Deleted:N0} rows in {pruneSeconds:F1} s = {pruned.Deleted / pruneSeconds:N0} rows/s" +
        (postgres ? string.Empty : $"; file {sizeBefore / 1_048_576.0:F1} MiB before, {new FileInfo(path).Length / 1_048_576.0:F1} MiB after (freed pages are reused, not returned: VACUUM shrinks)"));
    var audit = new AuditOptions { From = start, To = cut, RecentCount = 0 };
    watch.Restart();
    var report = await AuditRunner.RunAsync(store, PriceBook.Default, audit);
    Console.WriteLine($"audit of the pruned days from rollups: {report.Calls:N0} calls, ${report.TotalUsd:N2} in {watch.Elapsed.TotalMilliseconds:N0} ms");
}
