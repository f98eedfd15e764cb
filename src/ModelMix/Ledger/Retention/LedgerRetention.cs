using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ModelMix.Ledger;

/// <summary>What one retention run did.</summary>
/// <param name="Ran">False when another process held the retention lock (nothing was done).</param>
/// <param name="Cut">Raw rows before this instant were due: the start of the period that holds now − <c>RawAge</c>.</param>
/// <param name="Files">Export files published by this run.</param>
/// <param name="RowsExported">Rows those files hold.</param>
/// <param name="RowsPruned">Raw rows deleted from the ledger by this run (partitions dropped whole included).</param>
/// <param name="PartitionsDropped">PostgreSQL partitions dropped whole.</param>
/// <param name="RawFrom">The oldest raw row still stored after the run; null when the ledger holds none.</param>
internal sealed record LedgerRetentionResult(bool Ran, DateTimeOffset Cut, int Files, long RowsExported, long RowsPruned, int PartitionsDropped, DateTimeOffset? RawFrom);

/// <summary>
/// Automatic retention (docs/ledger.md, "Automatic retention"): one run exports every whole period (UTC month or day)
/// of raw rows older than <see cref="LedgerRetentionOptions.RawAge"/> to its own file in
/// <see cref="LedgerRetentionOptions.ExportFolder"/>, then prunes exactly the exported rows; the rollups are kept. The
/// same core serves <c>modelmix serve</c> and library hosts (<c>AddModelMix</c>), both through <see cref="LedgerRetentionService"/>.
/// <para>
/// Crash safety. A period's file is written under <c>.staging/</c> (resumable: <see cref="LedgerExporter"/> keeps its
/// state after each page reached the disk), read back and checked against that state, then a manifest
/// (<c>FILE.manifest.json</c>: rows, exact cost, id checksum, bytes, SHA-256) is written and flushed, and only then is
/// the file renamed into the folder and its rows pruned — each delete batch checks every row's id and cost against the
/// file, a PostgreSQL partition is dropped only when it holds exactly the file's rows of its range. Every step is
/// resumed by the next run from what is on disk: a staging file is finished and published, a manifest not marked
/// pruned is pruned (again: rows already deleted are skipped), a published file without a manifest gets one from its
/// content. A row is written to one file only: a period's next file (<c>ledger-2026-09.2.jsonl</c>, rows that arrived
/// late) is started only once every earlier file of the period is pruned, so it holds only rows no earlier file holds.
/// </para>
/// </summary>
internal sealed class LedgerRetention
{
    private readonly ILedgerStore _store;
    private readonly ILedgerExportStore _exporter;
    private readonly LedgerRetentionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LedgerRetentionMetrics? _metrics;

    /// <summary>A retention runner over <paramref name="store"/>.</summary>
    /// <param name="store">The ledger (migrated); it must be an <see cref="ILedgerExportStore"/> (both shipped stores are).</param>
    /// <param name="options">The settings; <see cref="LedgerRetentionOptions.ExportFolder"/> is required.</param>
    /// <param name="time">The clock that decides which periods are old enough.</param>
    /// <param name="logger">Progress and failures.</param>
    /// <param name="metrics">Rows exported and pruned, runs, the last successful run.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">Invalid options.</exception>
    public LedgerRetention(ILedgerStore store, LedgerRetentionOptions options, TimeProvider? time = null, ILogger? logger = null, LedgerRetentionMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        LedgerRetentionOptions.Validator.ThrowIfInvalid(options);
        if (string.IsNullOrWhiteSpace(options.ExportFolder))
        {
            throw new ArgumentException($"{LedgerRetentionOptions.SectionName}:{nameof(LedgerRetentionOptions.ExportFolder)} is required: pruned rows are exported there first.", nameof(options));
        }

        _store = store;
        _exporter = store as ILedgerExportStore
            ?? throw new ArgumentException($"The ledger store {store.GetType().Name} cannot export or prune.", nameof(store));
        _options = options;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _metrics = metrics;
        Folder = Path.GetFullPath(options.ExportFolder);
    }

    /// <summary>The export folder (full path).</summary>
    public string Folder { get; }

    /// <summary>For tests: called at each step (<c>exported</c>, <c>manifest</c>, <c>published</c>, <c>deleted</c>) to inject a crash.</summary>
    internal Func<string, ValueTask>? Fault { get; set; }

    /// <summary>Raw rows before this instant are due at <paramref name="now"/>.</summary>
    /// <param name="now">The current time.</param>
    public DateTimeOffset CutAt(DateTimeOffset now) => LedgerRetentionSpan.Of(now - _options.RawAge, _options.Period).From;

    /// <summary>Runs once: finishes what an interrupted run left, then exports and prunes every due period.</summary>
    /// <param name="cancellationToken">Stops after the current page or batch (the next run resumes).</param>
    public async Task<LedgerRetentionResult> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        var cut = CutAt(_time.GetUtcNow());
        var started = Stopwatch.GetTimestamp();
        await using var held = _store is ILedgerRetentionLock locking ? await locking.TryLockRetentionAsync(cancellationToken) : new NoLock();
        if (held is null)
        {
            LedgerRetentionLog.Locked(_logger);
            _metrics?.RunEnded("locked", null);
            return new LedgerRetentionResult(false, cut, 0, 0, 0, 0, null);
        }

        try
        {
            var run = new Run();
            Directory.CreateDirectory(Path.Combine(Folder, LedgerRetentionFiles.StagingFolder));
            await RecoverAsync(run, cancellationToken);

            var next = await OldestAsync(null, cut, cancellationToken);
            while (next is { } at)
            {
                var span = LedgerRetentionSpan.Of(at, _options.Period);
                if (span.To > cut)
                {
                    break; // a period that changed kind (Month → Day) may end after the cut: it waits
                }

                if (await ExportAndPublishAsync(span, NextSequence(span), resuming: false, run, cancellationToken) is { } manifest)
                {
                    await PruneAsync(manifest, run, cancellationToken);
                }

                next = await OldestAsync(span.To, cut, cancellationToken);
            }

            var rawFrom = await OldestAsync(null, null, cancellationToken);
            LedgerRetentionLog.Done(_logger, Stopwatch.GetElapsedTime(started), run.Files, run.Exported, run.Pruned, rawFrom is { } f ? LedgerExporter.FormatTimestamp(f) : "(none)");
            _metrics?.RunEnded("ok", _time.GetUtcNow());
            return new LedgerRetentionResult(true, cut, run.Files, run.Exported, run.Pruned, run.Partitions, rawFrom);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            _metrics?.RunEnded("failed", null);
            throw;
        }
    }

    /// <summary>The oldest raw row's timestamp in [<paramref name="from"/>, <paramref name="to"/>); null when none.</summary>
    private async Task<DateTimeOffset?> OldestAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken)
    {
        await foreach (var record in _exporter.ReadPageAsync(new LedgerQuery { From = from, To = to }, null, 1, cancellationToken))
        {
            return record.Timestamp;
        }

        return null;
    }

    /// <summary>Finishes what an interrupted run left: staging files, unpruned manifests, published files without a manifest.</summary>
    private async Task RecoverAsync(Run run, CancellationToken cancellationToken)
    {
        var staging = Path.Combine(Folder, LedgerRetentionFiles.StagingFolder);
        foreach (var path in Directory.EnumerateFiles(staging).Order(StringComparer.Ordinal).ToList())
        {
            var name = Path.GetFileName(path);
            if (!LedgerRetentionFiles.TryParse(name, out var span, out var sequence, out var format) || File.Exists(ManifestOf(span, sequence, format)))
            {
                continue; // a state file, or a file whose manifest is written (its prune finishes the rename, below)
            }

            LedgerRetentionLog.Resuming(_logger, name);
            if (await ExportAndPublishAsync(span, sequence, resuming: true, run, cancellationToken, format) is { } manifest)
            {
                await PruneAsync(manifest, run, cancellationToken);
            }
        }

        foreach (var path in Directory.EnumerateFiles(Folder).Order(StringComparer.Ordinal).ToList())
        {
            var name = Path.GetFileName(path);
            if (LedgerRetentionFiles.TryParse(name, out var span, out var sequence, out var format) && !File.Exists(LedgerRetentionManifest.PathOf(path)))
            {
                // Renamed into the folder (so complete) but its manifest is gone: rebuild it from the content; prune again.
                LedgerRetentionLog.Resuming(_logger, name);
                var (contents, unpriced) = await LedgerRetentionFiles.ReadBackAsync(path, format, span, cancellationToken);
                var rebuilt = await ManifestForAsync(path, name, sequence, span, format, contents, unpriced, cancellationToken);
                rebuilt.Save(LedgerRetentionManifest.PathOf(path));
            }
        }

        foreach (var path in Directory.EnumerateFiles(Folder, "*.manifest.json").Order(StringComparer.Ordinal).ToList())
        {
            var manifest = LedgerRetentionManifest.Load(path);
            if (!manifest.Pruned)
            {
                LedgerRetentionLog.Resuming(_logger, manifest.File);
                await PruneAsync(manifest, run, cancellationToken);
            }
        }
    }

    /// <summary>The manifest of the export file at <paramref name="path"/> (published as <paramref name="name"/>): its read-back contents, size and SHA-256.</summary>
    private async Task<LedgerRetentionManifest> ManifestForAsync(
        string path, string name, int sequence, LedgerRetentionSpan span, LedgerExportFormat format, LedgerPartitionContents contents, long unpriced, CancellationToken cancellationToken) => new()
        {
            File = name, Sequence = sequence, Span = span, Format = format, Contents = contents, UnpricedRows = unpriced,
            Bytes = new FileInfo(path).Length, Sha256 = await LedgerRetentionFiles.Sha256Async(path, cancellationToken), ExportedAt = _time.GetUtcNow(),
        };

    private string ManifestOf(LedgerRetentionSpan span, int sequence, LedgerExportFormat format) =>
        LedgerRetentionManifest.PathOf(Path.Combine(Folder, LedgerRetentionFiles.FileName(span, sequence, format)));

    /// <summary>
    /// The number of the period's next file: one more than any file, manifest or staging file of the period (in any
    /// format), so a new file never takes the name of one already written, even one moved away with its manifest kept.
    /// </summary>
    private int NextSequence(LedgerRetentionSpan span)
    {
        var last = 0;
        foreach (var folder in new[] { Folder, Path.Combine(Folder, LedgerRetentionFiles.StagingFolder) })
        {
            foreach (var path in Directory.EnumerateFiles(folder, span.BaseName + "*"))
            {
                var name = Path.GetFileName(path);
                foreach (var suffix in new[] { ".manifest.json", ".state.json" })
                {
                    if (name.EndsWith(suffix, StringComparison.Ordinal))
                    {
                        name = name[..^suffix.Length];
                    }
                }

                if (LedgerRetentionFiles.TryParse(name, out var other, out var sequence, out var format) && other == span)
                {
                    if (folder != Folder && !File.Exists(ManifestOf(span, sequence, format)))
                    {
                        throw new InvalidOperationException($"The staging export '{path}' is unfinished: a new export of its period waits for it.");
                    }

                    last = Math.Max(last, sequence);
                }
            }
        }

        return last + 1;
    }

    /// <summary>Exports (or resumes) a period's file under <c>.staging/</c>, verifies it, writes its manifest and publishes it.</summary>
    private async Task<LedgerRetentionManifest?> ExportAndPublishAsync(
        LedgerRetentionSpan span, int sequence, bool resuming, Run run, CancellationToken cancellationToken, LedgerExportFormat? format = null)
    {
        var fileFormat = format ?? _options.Format;
        var name = LedgerRetentionFiles.FileName(span, sequence, fileFormat);
        var staging = Path.Combine(Folder, LedgerRetentionFiles.StagingFolder, name);
        var final = Path.Combine(Folder, name);
        if (!resuming && await OldestAsync(span.From, span.To, cancellationToken) is null)
        {
            return null;
        }

        var progress = new Progress(_logger, name);
        var export = await LedgerExporter.ExportAsync(
            _exporter, new LedgerExportOptions { Path = staging, Format = fileFormat, From = span.From, To = span.To }, progress, cancellationToken);
        if (export.Rows == 0)
        {
            File.Delete(staging);
            File.Delete(LedgerExporter.StatePath(staging));
            return null;
        }

        // The file as it is on disk must hold what its state says was written: the rows, their exact cost.
        var (contents, unpriced) = await LedgerRetentionFiles.ReadBackAsync(staging, fileFormat, span, cancellationToken);
        if (contents.Rows != export.Rows || contents.CostTotal != export.CostTotal)
        {
            throw new InvalidOperationException(
                $"The export '{staging}' reads back {contents.Rows} rows and ${SqliteLedgerSchema.ToStoredDecimal(contents.CostTotal)} but was written with " +
                $"{export.Rows} rows and ${SqliteLedgerSchema.ToStoredDecimal(export.CostTotal)}: it is not published and nothing is pruned.");
        }

        await FaultAsync("exported");
        var manifest = await ManifestForAsync(staging, name, sequence, span, fileFormat, contents, unpriced, cancellationToken);
        manifest.Save(LedgerRetentionManifest.PathOf(final));
        await FaultAsync("manifest");
        Publish(staging, final);
        run.Files++;
        run.Exported += contents.Rows;
        _metrics?.Exported(contents.Rows);
        LedgerRetentionLog.Published(_logger, contents.Rows, LedgerExporter.FormatTimestamp(span.From), LedgerExporter.FormatTimestamp(span.To), final,
            SqliteLedgerSchema.ToStoredDecimal(contents.CostTotal), manifest.Sha256);
        await FaultAsync("published");
        return manifest;
    }

    /// <summary>Renames the staging file into the folder (its content and manifest are on disk) and drops its export state.</summary>
    private static void Publish(string staging, string final)
    {
        if (File.Exists(final))
        {
            throw new InvalidOperationException($"'{final}' exists already: the export '{staging}' is not published over it (move one of them away).");
        }

        File.Move(staging, final);
        File.Delete(LedgerExporter.StatePath(staging));
    }

    /// <summary>Deletes exactly the rows of a published file from the ledger (whole partitions where they match), then marks its manifest pruned.</summary>
    private async Task PruneAsync(LedgerRetentionManifest manifest, Run run, CancellationToken cancellationToken)
    {
        var final = Path.Combine(Folder, manifest.File);
        var staging = Path.Combine(Folder, LedgerRetentionFiles.StagingFolder, manifest.File);
        if (!File.Exists(final))
        {
            if (!File.Exists(staging))
            {
                if (manifest.Pruned)
                {
                    return;
                }

                throw new InvalidOperationException(
                    $"The export '{final}' is missing, but its manifest says its {manifest.Contents.Rows} rows are not pruned yet: they are kept. Put the file back to finish.");
            }

            // Interrupted between the manifest and the rename: the staging file must be exactly what the manifest describes.
            if (new FileInfo(staging).Length != manifest.Bytes || await LedgerRetentionFiles.Sha256Async(staging, cancellationToken) != manifest.Sha256)
            {
                throw new InvalidOperationException($"The staging export '{staging}' differs from its manifest: it is not published and nothing is pruned.");
            }

            Publish(staging, final);
        }

        var (contents, _) = await LedgerRetentionFiles.ReadBackAsync(final, manifest.Format, manifest.Span, cancellationToken);
        if (contents != manifest.Contents)
        {
            throw new InvalidOperationException(
                $"The export '{final}' no longer holds what its manifest records ({manifest.Contents.Rows} rows, ${SqliteLedgerSchema.ToStoredDecimal(manifest.Contents.CostTotal)}): " +
                "nothing of it is pruned.");
        }

        long deleted = 0;
        var dropped = await LedgerPartitionPruner.DropWholePartitionsAsync(
            _exporter as ILedgerPartitionStore, new LedgerPruneOptions { Before = manifest.Span.To, ExportPath = final, Format = manifest.Format }, manifest.Span.To, cancellationToken);
        deleted += dropped.Deleted;
        var batch = new List<LedgerExportedRow>(_options.BatchSize);
        async Task DeleteAsync()
        {
            var done = await _exporter.DeleteExportedAsync(batch, manifest.Span.To, cancellationToken);
            deleted += done.Deleted;
            _metrics?.Pruned(done.Deleted);
            batch.Clear();
            await FaultAsync("deleted");
        }

        await foreach (var (row, timestamp) in LedgerExportFile.ReadAsync(final, manifest.Format, cancellationToken))
        {
            if (dropped.Covers(timestamp))
            {
                continue;
            }

            batch.Add(row);
            if (batch.Count == _options.BatchSize)
            {
                await DeleteAsync();
            }
        }

        if (batch.Count > 0)
        {
            await DeleteAsync();
        }

        // A partition inside the period emptied by row deletes (an earlier, interrupted prune) is dropped too.
        var partitions = dropped.Partitions.Count;
        if (_exporter is ILedgerPartitionStore partitioned)
        {
            foreach (var partition in await partitioned.ListPartitionsAsync(cancellationToken))
            {
                if (partition.From is { } from && from >= manifest.Span.From && partition.To is { } to && to <= manifest.Span.To
                    && !dropped.Partitions.Contains(partition) && await partitioned.DropPartitionAsync(partition, default, cancellationToken))
                {
                    partitions++;
                }
            }
        }

        _metrics?.Pruned(dropped.Deleted);
        _metrics?.PartitionsDropped(partitions);
        (manifest with { Pruned = true, PrunedAt = _time.GetUtcNow() }).Save(LedgerRetentionManifest.PathOf(final));
        run.Pruned += deleted;
        run.Partitions += partitions;
        LedgerRetentionLog.Pruned(_logger, deleted, final, SqliteLedgerSchema.ToStoredDecimal(manifest.Contents.CostTotal), partitions);
    }

    private ValueTask FaultAsync(string step) => Fault?.Invoke(step) ?? ValueTask.CompletedTask;

    private sealed class Run
    {
        public int Files { get; set; }

        public long Exported { get; set; }

        public long Pruned { get; set; }

        public int Partitions { get; set; }
    }

    private sealed class NoLock : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>Logs an export's progress at most every 10 seconds.</summary>
    private sealed class Progress(ILogger logger, string file) : IProgress<LedgerExportProgress>
    {
        private long _last = Stopwatch.GetTimestamp();

        public void Report(LedgerExportProgress value)
        {
            if (Stopwatch.GetElapsedTime(_last) >= TimeSpan.FromSeconds(10))
            {
                _last = Stopwatch.GetTimestamp();
                LedgerRetentionLog.Exporting(logger, file, value.Rows, value.Through is { } at ? LedgerExporter.FormatTimestamp(at) : "-");
            }
        }
    }
}
