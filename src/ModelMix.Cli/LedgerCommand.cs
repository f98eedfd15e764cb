using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Stores;

namespace ModelMix.Cli;

/// <summary>
/// <c>modelmix ledger export | prune | retain | reprice</c>: the raw ledger rows at scale (docs/ledger.md, "Export and
/// retention"): stream them to a file, prune old ones after exporting them (rollups kept), run one automatic-retention
/// pass (for cron), reprice after a price change.
/// </summary>
internal static class LedgerCommand
{
    /// <summary>How often a long run reports progress on standard error.</summary>
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(2);

    public static Command Create() => new("ledger", "Export, prune or retain (retention) or reprice the raw ledger rows; the hourly rollups behind audit and the dashboard are kept.")
    {
        Export(), Prune(), Retain(), Reprice(),
    };

    private static Option<string> FormatOption() => new Option<string>("--format")
    {
        Description = "File format: jsonl or csv. Default: csv when the file name ends in .csv, else jsonl.",
    }.AcceptOnlyFromAmong("jsonl", "csv");

    private static LedgerExportFormat FormatOf(string? format, string path) => format switch
    {
        "csv" => LedgerExportFormat.Csv,
        "jsonl" => LedgerExportFormat.Jsonl,
        _ => path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? LedgerExportFormat.Csv : LedgerExportFormat.Jsonl,
    };

    private static Command Export()
    {
        var db = CommonOptions.Db();
        var output = new Option<string>("--out") { Description = "The file to write. Running the same export again resumes it (state in FILE.state.json).", Required = true };
        var from = CommonOptions.Instant("--from", "Only calls at or after this time.");
        var to = CommonOptions.Instant("--to", "Only calls before this time (exclusive).");
        var key = new Option<string?>("--key-id") { Description = "Only this virtual key's calls." };
        var model = new Option<string?>("--model") { Description = "Only calls routed to this model." };
        var format = FormatOption();
        var command = new Command("export",
            "Stream ledger rows (ordered by time, then id) to a JSON Lines or CSV file, in constant memory; exact decimals as strings; " +
            "resumable: an interrupted export continues after its last row when run again.")
        {
            db, output, from, to, key, model, format,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var error = result.InvocationConfiguration.Error;
            var path = result.GetValue(output)!;
            return await RunAsync("export", result, db, async store =>
            {
                var options = new LedgerExportOptions
                {
                    Path = path,
                    Format = FormatOf(result.GetValue(format), path),
                    From = result.GetValue(from),
                    To = result.GetValue(to),
                    KeyId = result.GetValue(key),
                    Model = result.GetValue(model),
                };
                var export = await LedgerExporter.ExportAsync((ILedgerExportStore)store, options, ExportProgress(error), cancellationToken);
                await result.InvocationConfiguration.Output.WriteLineAsync(
                    $"Exported {export.Added:N0} rows to {path} ({export.Rows:N0} in the file, {export.UnpricedRows:N0} unpriced, total ${Money(export.CostTotal)}" +
                    (export.Cursor is { } last ? $", through {LedgerExporter.FormatTimestamp(last.Timestamp)})." : ")."));
            }, cancellationToken);
        });
        return command;
    }

    private static Command Prune()
    {
        var db = CommonOptions.Db();
        var before = CommonOptions.Instant("--before", "Delete raw rows before this time (exclusive), a whole UTC hour, e.g. 2026-11-01.");
        before.Required = true;
        var export = new Option<string?>("--export")
        {
            Description = "The export to write first (or resume). Default: ledger-export/ledger-before-<cut>.jsonl under the current directory.",
        };
        var format = FormatOption();
        var batch = new Option<int>("--batch-size")
        {
            Description = "Rows deleted per transaction (the ledger writer waits at most one batch). Default 5000.",
            DefaultValueFactory = _ => 5_000,
        };
        var command = new Command("prune",
            "Retention: export every raw row before --before, verify the file against the ledger (row count and exact cost), " +
            "then delete exactly the exported rows in short batches. Rollups are kept (audit and dashboard totals stay exact); newer rows, " +
            "intents and batches are never touched. Safe to run again after an interruption.")
        {
            db, before, export, format, batch,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var error = result.InvocationConfiguration.Error;
            var cut = result.GetValue(before)!.Value.ToUniversalTime();
            var path = result.GetValue(export)
                ?? Path.Combine("ledger-export", $"ledger-before-{cut.ToString("yyyyMMdd'T'HH'Z'", CultureInfo.InvariantCulture)}.jsonl");
            if (result.GetValue(batch) < 1)
            {
                await error.WriteLineAsync("modelmix ledger prune: --batch-size must be at least 1.");
                return 1;
            }

            return await RunAsync("prune", result, db, async store =>
            {
                // The same lock automatic retention takes (ModelMix:Ledger:Retention, `ledger retain`): a manual prune never
                // deletes rows under a retention run that is exporting or pruning them.
                await using var held = store is ILedgerRetentionLock locking
                    ? await locking.TryLockRetentionAsync(cancellationToken) ?? throw new InvalidOperationException(
                        "a retention run (ModelMix:Ledger:Retention in a proxy or host, or `modelmix ledger retain`) holds the retention lock on this ledger; nothing was exported or deleted. Run the prune again when it has finished.")
                    : null;

                var clock = Stopwatch.StartNew();
                var last = TimeSpan.Zero;
                var pruneProgress = new SyncProgress<LedgerPruneProgress>(p =>
                {
                    if (clock.Elapsed - last >= ProgressEvery)
                    {
                        last = clock.Elapsed;
                        error.WriteLine($"pruning: {p.Deleted:N0} of {p.Exported:N0} exported rows deleted");
                    }
                });
                var done = await LedgerPruner.PruneAsync(
                    store,
                    new LedgerPruneOptions { Before = cut, ExportPath = path, Format = FormatOf(result.GetValue(format), path), BatchSize = result.GetValue(batch) },
                    ExportProgress(error), pruneProgress, cancellationToken);
                var output = result.InvocationConfiguration.Output;
                await output.WriteLineAsync(
                    $"Exported {done.Export.Rows:N0} rows before {LedgerExporter.FormatTimestamp(cut)} to {path} (total ${Money(done.Export.CostTotal)}), verified against the ledger; " +
                    $"deleted {done.Deleted:N0} raw rows (${Money(done.DeletedCost)}) in {clock.Elapsed.TotalSeconds:F1} s. Rollups kept.");
                if (done.Remaining > 0)
                {
                    await output.WriteLineAsync(
                        $"{done.Remaining:N0} raw rows before the cut arrived after the export began and were kept: prune again with a new --export file.");
                }
            }, cancellationToken);
        });
        return command;
    }

    private static Command Retain()
    {
        var db = CommonOptions.Db();
        var folder = new Option<string>("--export-folder")
        {
            Description = "The folder the raw rows are exported to before they are pruned (one file per period, plus manifests to keep). The same folder on every run.",
            Required = true,
        };
        var rawAge = new Option<int>("--raw-age-days")
        {
            Description = "Keep raw rows this many days (at least 7); whole periods older than that are exported then pruned. Default 90, as ModelMix:Ledger:Retention:RawAge.",
            DefaultValueFactory = _ => 90,
        };
        var period = new Option<string>("--period") { Description = "One file per month (default) or per day.", DefaultValueFactory = _ => "month" }
            .AcceptOnlyFromAmong("month", "day");
        var format = new Option<string>("--format") { Description = "File format: jsonl (default) or csv.", DefaultValueFactory = _ => "jsonl" }
            .AcceptOnlyFromAmong("jsonl", "csv");
        var batch = new Option<int>("--batch-size")
        {
            Description = "Rows deleted per transaction (the ledger writer waits at most one batch). Default 5000.",
            DefaultValueFactory = _ => 5_000,
        };
        var command = new Command("retain",
            "One pass of automatic retention (docs/ledger.md, \"Automatic retention\"), e.g. from cron: finishes what an interrupted pass left, " +
            "then exports every whole period older than --raw-age-days to its own verified file in --export-folder and prunes exactly those rows. " +
            "Rollups are kept. Takes the same lock as a proxy's retention, so it never runs beside one.")
        {
            db, folder, rawAge, period, format, batch,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var error = result.InvocationConfiguration.Error;
            var options = new LedgerRetentionOptions
            {
                Enabled = true,
                ExportFolder = result.GetValue(folder),
                RawAge = TimeSpan.FromDays(result.GetValue(rawAge)),
                Period = result.GetValue(period) == "day" ? LedgerRetentionPeriod.Day : LedgerRetentionPeriod.Month,
                Format = result.GetValue(format) == "csv" ? LedgerExportFormat.Csv : LedgerExportFormat.Jsonl,
                BatchSize = result.GetValue(batch),
            };
            if (options.GetValidationFailures() is [_, ..] failures)
            {
                foreach (var failure in failures)
                {
                    await error.WriteLineAsync($"modelmix ledger retain: {failure}");
                }

                return 1;
            }

            var exit = 0;
            var code = await RunAsync("retain", result, db, async store =>
            {
                var done = await new LedgerRetention(store, options).RunOnceAsync(cancellationToken);
                if (!done.Ran)
                {
                    await error.WriteLineAsync("modelmix ledger retain: another retention run holds the retention lock on this ledger; nothing was done (run again later).");
                    exit = 3;
                    return;
                }

                await result.InvocationConfiguration.Output.WriteLineAsync(
                    $"Retention before {LedgerExporter.FormatTimestamp(done.Cut)}: {done.Files:N0} files written to {options.ExportFolder}, {done.RowsExported:N0} rows exported, " +
                    $"{done.RowsPruned:N0} raw rows pruned ({done.PartitionsDropped:N0} partitions dropped). Rollups kept. Raw rows now from " +
                    (done.RawFrom is { } from ? LedgerExporter.FormatTimestamp(from) : "(none)") + ".");
            }, cancellationToken);
            return code != 0 ? code : exit;
        });
        return command;
    }

    private static Command Reprice()
    {
        var db = CommonOptions.Db();
        var from = CommonOptions.Instant("--from", "First time to reprice (rounded down to the hour).");
        from.Required = true;
        var to = CommonOptions.Instant("--to", "Time to stop before (rounded up to the hour).");
        to.Required = true;
        var model = new Option<string?>("--model") { Description = "Only calls routed to, or answered by, this model." };
        var unpriced = new Option<bool>("--unpriced") { Description = "Only calls recorded unpriced (no price in force when they ran)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the before/after totals; write nothing." };
        var prices = CommonOptions.Prices();
        var command = new Command("reprice",
            "Reprice stored calls at the price book (after a price book change): calls recorded unpriced (--unpriced) or one model's calls (--model) " +
            "in whole hours of [--from, --to); raw rows and rollups change in one transaction. --dry-run shows the before/after totals.")
        {
            db, from, to, model, unpriced, dryRun, prices,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var error = result.InvocationConfiguration.Error;
            if (result.GetValue(model) is null && !result.GetValue(unpriced))
            {
                await error.WriteLineAsync("modelmix ledger reprice: say which calls: --unpriced, --model MODEL, or both.");
                return 1;
            }

            return await RunAsync("reprice", result, db, async store =>
            {
                var book = result.GetValue(prices) is { } file ? PriceBook.Load(file) : PriceBook.Default;
                var done = await LedgerRepricer.RepriceAsync(store, book, new LedgerRepriceOptions
                {
                    From = result.GetValue(from)!.Value,
                    To = result.GetValue(to)!.Value,
                    Model = result.GetValue(model),
                    UnpricedOnly = result.GetValue(unpriced),
                    DryRun = result.GetValue(dryRun),
                }, cancellationToken);
                var output = result.InvocationConfiguration.Output;
                await output.WriteLineAsync(
                    $"{(done.DryRun ? "Dry run (nothing written)" : "Repriced")}: {LedgerExporter.FormatTimestamp(done.From)} to {LedgerExporter.FormatTimestamp(done.To)}, " +
                    $"{done.Selected:N0} calls selected, {done.Repriced:N0} priced by the book ({done.Changed:N0} changed), {done.StillUnpriced:N0} still unpriced.");
                await output.WriteLineAsync($"  before: ${Money(done.Before)}");
                await output.WriteLineAsync($"  after:  ${Money(done.After)}");
                await output.WriteLineAsync($"  change: ${Money(done.After - done.Before)}");
            }, cancellationToken);
        });
        return command;
    }

    private static string Money(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    private static SyncProgress<LedgerExportProgress> ExportProgress(TextWriter error)
    {
        var clock = Stopwatch.StartNew();
        var last = TimeSpan.Zero;
        return new SyncProgress<LedgerExportProgress>(p =>
        {
            if (clock.Elapsed - last >= ProgressEvery)
            {
                last = clock.Elapsed;
                var through = p.Through is { } at ? $", through {LedgerExporter.FormatTimestamp(at)}" : string.Empty;
                error.WriteLine($"exporting: {p.Rows:N0} rows{through} ({p.Rows / Math.Max(clock.Elapsed.TotalSeconds, 0.001):N0} rows/s)");
            }
        });
    }

    /// <summary>Opens and migrates the store, runs <paramref name="body"/>, and words failures as the other commands do.</summary>
    private static async Task<int> RunAsync(string name, ParseResult result, Option<string> db, Func<ILedgerStore, Task> body, CancellationToken cancellationToken)
    {
        var error = result.InvocationConfiguration.Error;
        var dbPath = result.GetValue(db)!;
        if (StoreLocation.NamesMissingFile(dbPath))
        {
            await error.WriteLineAsync($"modelmix ledger {name}: the ledger '{dbPath}' does not exist (pass --db PATH).");
            return 1;
        }

        StoreLocation? location = null;
        try
        {
            location = StoreLocation.Parse(dbPath);
            await using var store = location.CreateLedgerStore();
            await store.MigrateAsync(cancellationToken);
            await body(store);
            return 0;
        }
        catch (Exception exception) when (exception is FormatException or ArgumentException or InvalidOperationException or PricingException or IOException
            or UnauthorizedAccessException or System.Data.Common.DbException or System.Net.Sockets.SocketException or TimeoutException)
        {
            var where = location is null ? string.Empty : $" ({location.Display})";
            await error.WriteLineAsync($"modelmix ledger {name}{where}: {CliErrors.Message(exception)}");
            return 1;
        }
    }

    /// <summary>An <see cref="IProgress{T}"/> that reports on the caller's thread (no synchronization context needed).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
