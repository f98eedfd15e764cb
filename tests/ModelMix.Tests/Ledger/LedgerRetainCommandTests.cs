using System.CommandLine;
using ModelMix.Ledger;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// <c>modelmix ledger retain</c> (one automatic-retention pass, e.g. from cron) and <c>modelmix ledger prune</c> under
/// the retention lock (docs/ledger.md, "Automatic retention"), on a real SQLite file, through the CLI's own parser.
/// The rows are in March 2025, so any retention age of 30 days cuts after them on today's clock.
/// </summary>
public sealed class LedgerRetainCommandTests : IDisposable
{
    // 500 calls, one an hour from 1 March 2025 00:30 UTC: all inside March 2025 (500 h ≈ 20.8 days).
    private static readonly DateTimeOffset T0 = new(2025, 3, 1, 0, 30, 0, TimeSpan.Zero);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    private string ExportFolder => Path.Combine(_db.Folder, "retained");

    private async Task<LedgerRecord[]> SeedAsync()
    {
        var records = LedgerTraffic.Generate(500, seed: 71, T0, TimeSpan.FromHours(1));
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteBatchAsync(records);
        return records;
    }

    private async Task<int> LedgerRowsAsync()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        var count = 0;
        await foreach (var _ in store.ReadAsync(LedgerQuery.All))
        {
            count++;
        }

        return count;
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await global::ModelMix.Cli.Program.BuildRoot().Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exitCode, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Retain_exports_the_old_month_to_its_own_file_and_prunes_exactly_its_rows()
    {
        var records = await SeedAsync();

        var (exit, output, error) = await RunAsync("ledger", "retain", "--db", _db.FilePath, "--export-folder", ExportFolder, "--raw-age-days", "30");

        Assert.True(exit == 0, error);
        Assert.Contains("500 rows exported", output, StringComparison.Ordinal);
        Assert.Contains("500 raw rows pruned", output, StringComparison.Ordinal);
        var file = Path.Combine(ExportFolder, "ledger-2025-03.jsonl");
        Assert.True(File.Exists(file), string.Join(", ", Directory.EnumerateFiles(ExportFolder)));
        var exported = new List<string>();
        await foreach (var (row, _) in LedgerExportFile.ReadAsync(file, LedgerExportFormat.Jsonl))
        {
            exported.Add(row.Id);
        }

        Assert.Equal(records.Select(r => r.Id).Order(StringComparer.Ordinal), exported.Order(StringComparer.Ordinal));
        Assert.Equal(0, await LedgerRowsAsync());

        // A second pass finds nothing left to do and writes no second file.
        var again = await RunAsync("ledger", "retain", "--db", _db.FilePath, "--export-folder", ExportFolder, "--raw-age-days", "30");
        Assert.True(again.ExitCode == 0, again.Error);
        Assert.Contains("0 rows exported", again.Output, StringComparison.Ordinal);
        Assert.Single(Directory.EnumerateFiles(ExportFolder, "*.jsonl"));
    }

    [Fact]
    public async Task Retain_and_prune_leave_every_row_alone_while_another_run_holds_the_retention_lock()
    {
        await SeedAsync();
        var pruneFile = Path.Combine(_db.Folder, "manual", "before-2025-04.jsonl");
        await using (var store = new SqliteLedgerStore(_db.FilePath))
        {
            await store.MigrateAsync();
            await using var held = await store.TryLockRetentionAsync();
            Assert.NotNull(held);

            var retain = await RunAsync("ledger", "retain", "--db", _db.FilePath, "--export-folder", ExportFolder, "--raw-age-days", "30");
            Assert.Equal(3, retain.ExitCode);
            Assert.Contains("holds the retention lock", retain.Error, StringComparison.Ordinal);

            var prune = await RunAsync("ledger", "prune", "--db", _db.FilePath, "--before", "2025-04-01", "--export", pruneFile);
            Assert.Equal(1, prune.ExitCode);
            Assert.Contains("holds the retention lock", prune.Error, StringComparison.Ordinal);
        }

        Assert.Equal(500, await LedgerRowsAsync());
        Assert.False(File.Exists(pruneFile));
        Assert.False(Directory.Exists(ExportFolder) && Directory.EnumerateFiles(ExportFolder, "*.jsonl").Any());

        // Once the lock is released the manual prune runs.
        var after = await RunAsync("ledger", "prune", "--db", _db.FilePath, "--before", "2025-04-01", "--export", pruneFile);
        Assert.True(after.ExitCode == 0, after.Error);
        Assert.Equal(0, await LedgerRowsAsync());
    }

    [Fact]
    public async Task Retain_refuses_a_raw_age_below_seven_days_and_touches_nothing()
    {
        await SeedAsync();

        var (exit, _, error) = await RunAsync("ledger", "retain", "--db", _db.FilePath, "--export-folder", ExportFolder, "--raw-age-days", "3");

        Assert.Equal(1, exit);
        Assert.Contains("RawAge must be at least 7 days", error, StringComparison.Ordinal);
        Assert.Equal(500, await LedgerRowsAsync());
        Assert.False(Directory.Exists(ExportFolder));
    }
}
