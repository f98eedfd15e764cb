using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace ModelMix.Ledger;

/// <summary>The file format of a ledger export.</summary>
public enum LedgerExportFormat
{
    /// <summary>One JSON object per line; exact decimals as strings.</summary>
    Jsonl,

    /// <summary>RFC 4180 CSV with a header row; exact decimals as written by the ledger.</summary>
    Csv,
}

/// <summary>What to export, and where.</summary>
internal sealed record LedgerExportOptions
{
    /// <summary>The export file. Its state (for resuming) is kept beside it in <c>FILE.state.json</c>.</summary>
    public required string Path { get; init; }

    /// <summary>The file format.</summary>
    public LedgerExportFormat Format { get; init; } = LedgerExportFormat.Jsonl;

    /// <summary>First instant (inclusive); null: from the first record.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Instant to stop before (exclusive); null: through the last.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>Only this virtual key's records; null: every key.</summary>
    public string? KeyId { get; init; }

    /// <summary>Only records routed to this model; null: every model.</summary>
    public string? Model { get; init; }

    /// <summary>Rows read per page (each page is one short read, then flushed to disk with the state). At least 1.</summary>
    public int PageSize { get; init; } = 5_000;
}

/// <summary>Progress of a long export: rows in the file so far, and the timestamp of the last one.</summary>
/// <param name="Rows">Rows in the file.</param>
/// <param name="Through">The last row's timestamp; null while the file is empty.</param>
internal readonly record struct LedgerExportProgress(long Rows, DateTimeOffset? Through);

/// <summary>The outcome of an export: every row of the file (this run's and earlier runs'), and where it stands.</summary>
/// <param name="Rows">Rows in the file.</param>
/// <param name="Added">Rows this run appended.</param>
/// <param name="CostTotal">Exact sum of their <c>cost_total</c>.</param>
/// <param name="UnpricedRows">Rows without a cost.</param>
/// <param name="Cursor">The last row; null when none.</param>
/// <param name="Bytes">The file's length.</param>
internal sealed record LedgerExportResult(long Rows, long Added, decimal CostTotal, long UnpricedRows, LedgerCursor? Cursor, long Bytes);

/// <summary>
/// Streams ledger rows to a JSONL or CSV file in pages (constant memory at any size), ordered by timestamp then id,
/// and records after each page, once the page is on disk, where it stands (<c>FILE.state.json</c>: the cursor, the
/// row count, the exact cost sum and the file length). Running the same export again resumes after the cursor: a page
/// half-written by a killed run is cut off, so the file never holds a row twice (docs/ledger.md, "Export and retention").
/// </summary>
internal static class LedgerExporter
{
    /// <summary>The state file kept beside <paramref name="path"/>.</summary>
    /// <param name="path">The export file.</param>
    public static string StatePath(string path) => path + ".state.json";

    /// <summary>Exports (or resumes exporting) what <paramref name="options"/> selects.</summary>
    /// <param name="store">The ledger (migrated).</param>
    /// <param name="options">What and where.</param>
    /// <param name="progress">Told after each page.</param>
    /// <param name="cancellationToken">Stops after the page being written (the file stays resumable).</param>
    /// <exception cref="InvalidOperationException">The file exists and was written for another selection or format, or without a state file.</exception>
    public static async Task<LedgerExportResult> ExportAsync(
        ILedgerExportStore store, LedgerExportOptions options, IProgress<LedgerExportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Path);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PageSize, 1);
        var state = LedgerExportState.Open(options);
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(options.Path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        await using var file = new FileStream(options.Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 1 << 16);
        file.SetLength(state.Bytes); // drops whatever a killed run wrote after its last recorded page
        file.Position = state.Bytes;
        if (state.Bytes == 0 && options.Format == LedgerExportFormat.Csv)
        {
            var header = Encoding.UTF8.GetBytes(string.Join(',', SqliteLedgerSchema.Columns) + "\n");
            await file.WriteAsync(header, cancellationToken);
            await file.FlushAsync(cancellationToken);
            file.Flush(flushToDisk: true);
            state = state with { Bytes = file.Position };
            state.Save(options.Path);
        }

        var query = new LedgerQuery { From = options.From, To = options.To, KeyId = options.KeyId, Model = options.Model };
        var buffer = new ArrayBufferWriter<byte>(1 << 12);
        var line = new StringBuilder();
        long added = 0;
        while (true)
        {
            var page = 0;
            await foreach (var record in store.ReadPageAsync(query, state.Cursor, options.PageSize, cancellationToken))
            {
                buffer.ResetWrittenCount();
                if (options.Format == LedgerExportFormat.Jsonl)
                {
                    WriteJson(buffer, record);
                }
                else
                {
                    line.Clear();
                    WriteCsv(line, record);
                    Encoding.UTF8.GetBytes(line.ToString(), buffer);
                }

                await file.WriteAsync(buffer.WrittenMemory, cancellationToken);
                page++;
                state = state with
                {
                    Rows = state.Rows + 1,
                    CostTotal = state.CostTotal + (record.Cost?.Total ?? 0m),
                    UnpricedRows = state.UnpricedRows + (record.Cost is null ? 1 : 0),
                    Cursor = new LedgerCursor(record.Timestamp, record.Id),
                };
            }

            if (page > 0)
            {
                await file.FlushAsync(CancellationToken.None);
                file.Flush(flushToDisk: true); // the rows are on disk before the state says so
                state = state with { Bytes = file.Position };
                state.Save(options.Path);
                added += page;
                progress?.Report(new LedgerExportProgress(state.Rows, state.Cursor?.Timestamp));
            }

            if (page < options.PageSize)
            {
                break;
            }
        }

        progress?.Report(new LedgerExportProgress(state.Rows, state.Cursor?.Timestamp));
        return new LedgerExportResult(state.Rows, added, state.CostTotal, state.UnpricedRows, state.Cursor, state.Bytes);
    }

    /// <summary>One record's fields, in <see cref="SqliteLedgerSchema.Columns"/> order: string, long, bool, decimal or null.</summary>
    internal static object?[] Fields(LedgerRecord r)
    {
        var c = r.Cost;
        return
        [
            r.Id, FormatTimestamp(r.Timestamp), r.RequestId, r.UpstreamRequestId, r.SessionId, r.KeyId, r.TaskLabel,
            r.RequestedModel, r.RoutedModel, r.ResponseModel, r.Policy, r.Reason, (long)r.Attempt, r.EscalatedFrom,
            r.Usage.InputTokens, r.Usage.OutputTokens, r.Usage.CacheWrite5mTokens, r.Usage.CacheWrite1hTokens, r.Usage.CacheReadTokens,
            SqliteLedgerSchema.ToCode(r.Usage.ServiceTier), SqliteLedgerSchema.ToCode(r.Usage.Speed), r.Usage.InferenceGeo,
            c?.Input, c?.Output, c?.CacheWrite5m, c?.CacheWrite1h, c?.CacheRead, c?.Total,
            r.LatencyMs, r.Streaming, SqliteLedgerSchema.ToCode(r.Status), (long)r.HttpStatus, r.ErrorType, r.ShadowPairId,
            r.Effort, r.EffortIsDefault, (long)r.ThinkingBlocksDropped,
            r.Usage.WebSearchRequests, r.Usage.WebFetchRequests, c?.ServerTools,
            r.ClientDisconnected, r.UsageEstimated, r.OverrunUsd,
        ];
    }

    /// <summary>The timestamp as written: ISO 8601 UTC with all seven fractional digits (the stored 100 ns, exactly).</summary>
    /// <param name="value">An instant.</param>
    public static string FormatTimestamp(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static void WriteJson(ArrayBufferWriter<byte> buffer, LedgerRecord record)
    {
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            var fields = Fields(record);
            for (var i = 0; i < fields.Length; i++)
            {
                var name = SqliteLedgerSchema.Columns[i];
                switch (fields[i])
                {
                    case null: json.WriteNull(name); break;
                    case string text: json.WriteString(name, text); break;
                    case long number: json.WriteNumber(name, number); break;
                    case bool flag: json.WriteBoolean(name, flag); break;
                    case decimal money: json.WriteString(name, SqliteLedgerSchema.ToStoredDecimal(money)); break;
                    default: throw new UnreachableException();
                }
            }

            json.WriteEndObject();
        }

        buffer.Write("\n"u8);
    }

    private static void WriteCsv(StringBuilder line, LedgerRecord record)
    {
        var fields = Fields(record);
        for (var i = 0; i < fields.Length; i++)
        {
            if (i > 0)
            {
                line.Append(',');
            }

            switch (fields[i])
            {
                case null: break;
                case string text: AppendCsv(line, text); break;
                case long number: line.Append(number.ToString(CultureInfo.InvariantCulture)); break;
                case bool flag: line.Append(flag ? "true" : "false"); break;
                case decimal money: line.Append(SqliteLedgerSchema.ToStoredDecimal(money)); break;
                default: throw new UnreachableException();
            }
        }

        line.Append('\n');
    }

    private static void AppendCsv(StringBuilder line, string text)
    {
        // An empty string is quoted so it reads back apart from null (an empty field).
        if (text.Length > 0 && text.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            line.Append(text);
            return;
        }

        line.Append('"').Append(text.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
    }

    private sealed class UnreachableException() : InvalidOperationException("A ledger field of an unexpected type.");
}

/// <summary>Where an export file stands (<c>FILE.state.json</c>), written after each page reached the disk.</summary>
internal sealed record LedgerExportState
{
    public required LedgerExportFormat Format { get; init; }

    public DateTimeOffset? From { get; init; }

    public DateTimeOffset? To { get; init; }

    public string? KeyId { get; init; }

    public string? Model { get; init; }

    public long Rows { get; init; }

    public decimal CostTotal { get; init; }

    public long UnpricedRows { get; init; }

    public long Bytes { get; init; }

    public LedgerCursor? Cursor { get; init; }

    /// <summary>Set by the prune once it verified the export against the ledger and started deleting.</summary>
    public bool PruneStarted { get; init; }

    /// <summary>The state of an export about to run: a new file's, or the matching one of an export to resume.</summary>
    public static LedgerExportState Open(LedgerExportOptions options)
    {
        var fresh = new LedgerExportState { Format = options.Format, From = options.From, To = options.To, KeyId = options.KeyId, Model = options.Model };
        var existing = Load(options.Path);
        if (existing is null)
        {
            if (File.Exists(options.Path) && new FileInfo(options.Path).Length > 0)
            {
                throw new InvalidOperationException(
                    $"The export file '{options.Path}' already exists and has no state file ({LedgerExporter.StatePath(options.Path)}): not overwriting it. Choose another file.");
            }

            return fresh;
        }

        if (existing.Format != fresh.Format || existing.From != fresh.From || existing.To != fresh.To
            || !string.Equals(existing.KeyId, fresh.KeyId, StringComparison.Ordinal) || !string.Equals(existing.Model, fresh.Model, StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                $"The export file '{options.Path}' was written for another selection or format ({existing.Describe()}); " +
                $"this export asks for {fresh.Describe()}. Choose another file to start a new export.");
        }

        if (!File.Exists(options.Path) || new FileInfo(options.Path).Length < existing.Bytes)
        {
            throw new InvalidOperationException(
                $"The export file '{options.Path}' is shorter than its state file records ({existing.Bytes} bytes): it was truncated or replaced. Choose another file.");
        }

        return existing;
    }

    public static LedgerExportState? Load(string path)
    {
        var statePath = LedgerExporter.StatePath(path);
        if (!File.Exists(statePath))
        {
            return null;
        }

        using var document = JsonDocument.Parse(File.ReadAllBytes(statePath));
        var root = document.RootElement;
        static DateTimeOffset? Instant(JsonElement e, string name) =>
            e.GetProperty(name).ValueKind == JsonValueKind.Null ? null : DateTimeOffset.Parse(e.GetProperty(name).GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
        static string? Text(JsonElement e, string name) => e.GetProperty(name).ValueKind == JsonValueKind.Null ? null : e.GetProperty(name).GetString();
        var cursorAt = Instant(root, "cursor_timestamp");
        return new LedgerExportState
        {
            Format = root.GetProperty("format").GetString() == "csv" ? LedgerExportFormat.Csv : LedgerExportFormat.Jsonl,
            From = Instant(root, "from"),
            To = Instant(root, "to"),
            KeyId = Text(root, "key_id"),
            Model = Text(root, "model"),
            Rows = root.GetProperty("rows").GetInt64(),
            CostTotal = SqliteLedgerSchema.FromStoredDecimal(root.GetProperty("cost_total").GetString()!),
            UnpricedRows = root.GetProperty("unpriced_rows").GetInt64(),
            Bytes = root.GetProperty("bytes").GetInt64(),
            Cursor = cursorAt is { } at ? new LedgerCursor(at, Text(root, "cursor_id")!) : null,
            PruneStarted = root.TryGetProperty("prune_started", out var started) && started.GetBoolean(),
        };
    }

    /// <summary>Writes the state to a temporary file and renames it over the old one (never a half-written state).</summary>
    public void Save(string path)
    {
        var statePath = LedgerExporter.StatePath(path);
        var temporary = statePath + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("format", Format == LedgerExportFormat.Csv ? "csv" : "jsonl");
                WriteInstant(json, "from", From);
                WriteInstant(json, "to", To);
                json.WriteString("key_id", KeyId);
                json.WriteString("model", Model);
                json.WriteNumber("rows", Rows);
                json.WriteString("cost_total", SqliteLedgerSchema.ToStoredDecimal(CostTotal));
                json.WriteNumber("unpriced_rows", UnpricedRows);
                json.WriteNumber("bytes", Bytes);
                WriteInstant(json, "cursor_timestamp", Cursor?.Timestamp);
                json.WriteString("cursor_id", Cursor?.Id);
                json.WriteBoolean("prune_started", PruneStarted);
                json.WriteEndObject();
            }

            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, statePath, overwrite: true);
    }

    private string Describe() =>
        $"format {(Format == LedgerExportFormat.Csv ? "csv" : "jsonl")}, from {Show(From)}, to {Show(To)}, key {KeyId ?? "any"}, model {Model ?? "any"}";

    private static string Show(DateTimeOffset? at) => at is { } value ? LedgerExporter.FormatTimestamp(value) : "any";

    private static void WriteInstant(Utf8JsonWriter json, string name, DateTimeOffset? value)
    {
        if (value is { } at)
        {
            json.WriteString(name, LedgerExporter.FormatTimestamp(at));
        }
        else
        {
            json.WriteNull(name);
        }
    }
}

/// <summary>Reads an export file back: each row's id, timestamp and exact <c>cost_total</c> (what the prune verifies).</summary>
internal static class LedgerExportFile
{
    /// <summary>The rows of <paramref name="path"/>, in file order.</summary>
    /// <param name="path">A file written by <see cref="LedgerExporter"/>.</param>
    /// <param name="format">Its format.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    /// <exception cref="FormatException">A row that cannot be read.</exception>
    public static async IAsyncEnumerable<(LedgerExportedRow Row, DateTimeOffset Timestamp)> ReadAsync(
        string path, LedgerExportFormat format, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16);
        long number = 0;
        if (format == LedgerExportFormat.Jsonl)
        {
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                number++;
                if (line.Length == 0)
                {
                    continue;
                }

                using var document = JsonDocument.Parse(line);
                var root = document.RootElement;
                var cost = root.GetProperty("cost_total");
                yield return (
                    new LedgerExportedRow(root.GetProperty("id").GetString() ?? throw Bad(path, number),
                        cost.ValueKind == JsonValueKind.Null ? null : SqliteLedgerSchema.FromStoredDecimal(cost.GetString()!)),
                    ParseTimestamp(root.GetProperty("timestamp").GetString() ?? throw Bad(path, number)));
            }

            yield break;
        }

        var header = ReadCsvRecord(reader) ?? [];
        var id = header.IndexOf("id");
        var timestamp = header.IndexOf("timestamp");
        var total = header.IndexOf("cost_total");
        if (id < 0 || timestamp < 0 || total < 0)
        {
            throw new FormatException($"'{path}' is not a ledger CSV export: its header lacks id, timestamp or cost_total.");
        }

        while (ReadCsvRecord(reader) is { } fields)
        {
            number++;
            if (fields.Count != header.Count)
            {
                throw Bad(path, number);
            }

            yield return (
                new LedgerExportedRow(fields[id] ?? throw Bad(path, number), fields[total] is { } text ? SqliteLedgerSchema.FromStoredDecimal(text) : null),
                ParseTimestamp(fields[timestamp] ?? throw Bad(path, number)));
        }
    }

    /// <summary>The ids of <paramref name="rows"/> as a JSON array (one parameter for SQLite's <c>json_each</c>).</summary>
    internal static string IdArray(IReadOnlyList<LedgerExportedRow> rows)
    {
        var buffer = new ArrayBufferWriter<byte>(rows.Count * 36);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var row in rows)
            {
                json.WriteStringValue(row.Id);
            }

            json.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static DateTimeOffset ParseTimestamp(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private static FormatException Bad(string path, long row) => new($"'{path}': row {row} is not a ledger export row.");

    /// <summary>One RFC 4180 record (quoted fields may hold commas, quotes and newlines); an empty unquoted field is null; null at the end.</summary>
    internal static List<string?>? ReadCsvRecord(TextReader reader)
    {
        if (reader.Peek() < 0)
        {
            return null;
        }

        var fields = new List<string?>();
        var field = new StringBuilder();
        var quoted = false;
        while (true)
        {
            var c = reader.Read();
            if (c < 0 || c == '\n' || c == ',')
            {
                fields.Add(quoted || field.Length > 0 ? field.ToString() : null);
                field.Clear();
                quoted = false;
                if (c != ',')
                {
                    return fields;
                }

                continue;
            }

            if (c == '"' && field.Length == 0 && !quoted)
            {
                quoted = true;
                while (true)
                {
                    var q = reader.Read();
                    if (q < 0)
                    {
                        throw new FormatException("A CSV field's quotes are not closed.");
                    }

                    if (q == '"')
                    {
                        if (reader.Peek() == '"')
                        {
                            reader.Read();
                            field.Append('"');
                            continue;
                        }

                        break;
                    }

                    field.Append((char)q);
                }

                continue;
            }

            if (c != '\r')
            {
                field.Append((char)c);
            }
        }
    }
}
