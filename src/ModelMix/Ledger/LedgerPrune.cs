namespace ModelMix.Ledger;

/// <summary>What to prune: raw rows before a cut, after exporting them to a file.</summary>
internal sealed record LedgerPruneOptions
{
    /// <summary>The cut, a whole UTC hour (the rollups' grain): rows at or after it are never touched.</summary>
    public required DateTimeOffset Before { get; init; }

    /// <summary>The export file (resumed when it is this prune's own, interrupted, export).</summary>
    public required string ExportPath { get; init; }

    /// <summary>The export's format.</summary>
    public LedgerExportFormat Format { get; init; } = LedgerExportFormat.Jsonl;

    /// <summary>Rows deleted per transaction (each is short, so the ledger writer waits at most one batch). At least 1.</summary>
    public int BatchSize { get; init; } = 5_000;
}

/// <summary>Progress of a prune: rows deleted so far.</summary>
/// <param name="Deleted">Rows deleted by this run.</param>
/// <param name="Exported">Rows in the export.</param>
internal readonly record struct LedgerPruneProgress(long Deleted, long Exported);

/// <summary>The outcome of a prune.</summary>
/// <param name="Export">The export the deleted rows are in.</param>
/// <param name="Deleted">Raw rows this run deleted.</param>
/// <param name="DeletedCost">Their exact summed cost.</param>
/// <param name="Remaining">Raw rows before the cut still stored (arrived after the export began: kept for the next prune).</param>
internal sealed record LedgerPruneResult(LedgerExportResult Export, long Deleted, decimal DeletedCost, long Remaining);

/// <summary>
/// Retention by export-then-prune (docs/ledger.md, "Export and retention"): exports every raw row before the cut,
/// verifies the file against the ledger (row count and exact cost sum), then deletes exactly the exported rows, in
/// bounded batches, each checked row by row against its exported cost. Rollups are kept, so audits and the dashboard
/// stay exact for pruned hours; intents, batches and newer rows are never touched.
/// </summary>
internal static class LedgerPruner
{
    /// <summary>Exports, verifies and prunes. Safe to run again after an interruption, at any step.</summary>
    /// <param name="store">The ledger (migrated); it must also be an <see cref="ILedgerExportStore"/>.</param>
    /// <param name="options">The cut and the export file.</param>
    /// <param name="exportProgress">Told after each exported page.</param>
    /// <param name="pruneProgress">Told after each deleted batch.</param>
    /// <param name="cancellationToken">Stops after the current batch (the work done stays done; run again to finish).</param>
    /// <exception cref="InvalidOperationException">The export does not match the ledger, or a row changed since its export: nothing (more) is deleted.</exception>
    public static async Task<LedgerPruneResult> PruneAsync(
        ILedgerStore store, LedgerPruneOptions options,
        IProgress<LedgerExportProgress>? exportProgress = null, IProgress<LedgerPruneProgress>? pruneProgress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        var exporter = store as ILedgerExportStore
            ?? throw new InvalidOperationException($"The ledger store {store.GetType().Name} cannot export or prune.");
        var before = options.Before.ToUniversalTime();
        if (before.Ticks % TimeSpan.TicksPerHour != 0)
        {
            throw new ArgumentException(
                $"The prune cut must be a whole UTC hour (the rollups' grain), so that every pruned hour stays whole in the rollups; was {LedgerExporter.FormatTimestamp(before)}.",
                nameof(options));
        }

        var export = await LedgerExporter.ExportAsync(
            exporter, new LedgerExportOptions { Path = options.ExportPath, Format = options.Format, To = before }, exportProgress, cancellationToken);

        // Verify the file as written on disk against its state, then (first run) against the ledger itself.
        long fileRows = 0;
        decimal fileCost = 0;
        await foreach (var (row, timestamp) in LedgerExportFile.ReadAsync(options.ExportPath, options.Format, cancellationToken))
        {
            if (timestamp >= before)
            {
                throw new InvalidOperationException($"The export '{options.ExportPath}' holds a row at or after the cut ({row.Id}): nothing was deleted.");
            }

            fileRows++;
            fileCost += row.CostTotal ?? 0m;
        }

        if (fileRows != export.Rows || fileCost != export.CostTotal)
        {
            throw new InvalidOperationException(
                $"The export '{options.ExportPath}' reads back {fileRows} rows and ${SqliteLedgerSchema.ToStoredDecimal(fileCost)}, " +
                $"but was written with {export.Rows} rows and ${SqliteLedgerSchema.ToStoredDecimal(export.CostTotal)}: nothing was deleted.");
        }

        var state = LedgerExportState.Load(options.ExportPath)!;
        if (!state.PruneStarted)
        {
            var ledger = await store.GetTotalsAsync(new LedgerQuery { To = before }, cancellationToken);
            if (ledger.Count != fileRows || ledger.TotalCost != fileCost)
            {
                throw new InvalidOperationException(
                    $"The export '{options.ExportPath}' holds {fileRows} rows and ${SqliteLedgerSchema.ToStoredDecimal(fileCost)}; the ledger holds " +
                    $"{ledger.Count} rows and ${SqliteLedgerSchema.ToStoredDecimal(ledger.TotalCost)} before the cut (rows arrived or were repriced since the export began): " +
                    "nothing was deleted. Export again to a new file, then prune.");
            }

            state = state with { PruneStarted = true };
            state.Save(options.ExportPath);
        }

        long deleted = 0;
        decimal deletedCost = 0;

        // A partitioned store (PostgreSQL) drops every partition entirely before the cut that holds exactly the exported
        // rows of its range; only the rows of the others (the partition straddling the cut) are deleted one by one.
        var dropped = await LedgerPartitionPruner.DropWholePartitionsAsync(exporter as ILedgerPartitionStore, options, before, cancellationToken);
        deleted += dropped.Deleted;
        deletedCost += dropped.CostTotal;
        if (dropped.Deleted > 0)
        {
            pruneProgress?.Report(new LedgerPruneProgress(deleted, fileRows));
        }

        var batch = new List<LedgerExportedRow>(options.BatchSize);
        async Task DeleteAsync()
        {
            var done = await exporter.DeleteExportedAsync(batch, before, cancellationToken);
            deleted += done.Deleted;
            deletedCost += done.CostTotal;
            batch.Clear();
            pruneProgress?.Report(new LedgerPruneProgress(deleted, fileRows));
        }

        await foreach (var (row, timestamp) in LedgerExportFile.ReadAsync(options.ExportPath, options.Format, cancellationToken))
        {
            if (dropped.Covers(timestamp))
            {
                continue;
            }

            batch.Add(row);
            if (batch.Count == options.BatchSize)
            {
                await DeleteAsync();
            }
        }

        if (batch.Count > 0)
        {
            await DeleteAsync();
        }

        var remaining = await store.CountAsync(new LedgerQuery { To = before }, cancellationToken);
        return new LedgerPruneResult(export, deleted, deletedCost, remaining);
    }
}
