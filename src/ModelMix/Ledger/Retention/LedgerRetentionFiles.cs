using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ModelMix.Ledger;

/// <summary>One period of raw rows: [<see cref="From"/>, <see cref="To"/>), a whole UTC month or day.</summary>
/// <param name="From">Its first instant.</param>
/// <param name="To">Its end (exclusive).</param>
/// <param name="Kind">Month or day.</param>
internal readonly record struct LedgerRetentionSpan(DateTimeOffset From, DateTimeOffset To, LedgerRetentionPeriod Kind)
{
    /// <summary>The period of <paramref name="kind"/> that holds <paramref name="at"/>.</summary>
    public static LedgerRetentionSpan Of(DateTimeOffset at, LedgerRetentionPeriod kind)
    {
        var utc = at.ToUniversalTime();
        var from = kind == LedgerRetentionPeriod.Month
            ? new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero)
            : new DateTimeOffset(utc.Year, utc.Month, utc.Day, 0, 0, 0, TimeSpan.Zero);
        return new LedgerRetentionSpan(from, kind == LedgerRetentionPeriod.Month ? from.AddMonths(1) : from.AddDays(1), kind);
    }

    /// <summary>The files' base name: <c>ledger-2026-09</c> or <c>ledger-2026-09-14</c>.</summary>
    public string BaseName => Kind == LedgerRetentionPeriod.Month
        ? "ledger-" + From.ToString("yyyy-MM", CultureInfo.InvariantCulture)
        : "ledger-" + From.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}

/// <summary>
/// The retention manifest of one published export file (<c>FILE.manifest.json</c>): what the file holds (rows, exact
/// cost, id checksum, bytes, SHA-256) and whether its rows were pruned from the ledger.
/// </summary>
internal sealed record LedgerRetentionManifest
{
    public required string File { get; init; }

    public required int Sequence { get; init; }

    public required LedgerRetentionSpan Span { get; init; }

    public required LedgerExportFormat Format { get; init; }

    public required LedgerPartitionContents Contents { get; init; }

    public required long UnpricedRows { get; init; }

    public required long Bytes { get; init; }

    public required string Sha256 { get; init; }

    public required DateTimeOffset ExportedAt { get; init; }

    public bool Pruned { get; init; }

    public DateTimeOffset? PrunedAt { get; init; }

    public static string PathOf(string dataPath) => dataPath + ".manifest.json";

    public static LedgerRetentionManifest Load(string path)
    {
        using var document = JsonDocument.Parse(System.IO.File.ReadAllBytes(path));
        var root = document.RootElement;
        static DateTimeOffset Instant(JsonElement e, string name) =>
            DateTimeOffset.Parse(e.GetProperty(name).GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
        return new LedgerRetentionManifest
        {
            File = root.GetProperty("file").GetString()!,
            Sequence = root.GetProperty("sequence").GetInt32(),
            Span = new LedgerRetentionSpan(Instant(root, "from"), Instant(root, "to"),
                root.GetProperty("period").GetString() == "day" ? LedgerRetentionPeriod.Day : LedgerRetentionPeriod.Month),
            Format = root.GetProperty("format").GetString() == "csv" ? LedgerExportFormat.Csv : LedgerExportFormat.Jsonl,
            Contents = new LedgerPartitionContents(
                root.GetProperty("rows").GetInt64(),
                SqliteLedgerSchema.FromStoredDecimal(root.GetProperty("cost_total").GetString()!),
                decimal.Parse(root.GetProperty("id_checksum").GetString()!, CultureInfo.InvariantCulture)),
            UnpricedRows = root.GetProperty("unpriced_rows").GetInt64(),
            Bytes = root.GetProperty("bytes").GetInt64(),
            Sha256 = root.GetProperty("sha256").GetString()!,
            ExportedAt = Instant(root, "exported_at"),
            Pruned = root.GetProperty("pruned").GetBoolean(),
            PrunedAt = root.TryGetProperty("pruned_at", out var at) && at.ValueKind == JsonValueKind.String ? Instant(root, "pruned_at") : null,
        };
    }

    /// <summary>Writes the manifest to a temporary file, flushes it to disk and renames it over the old one.</summary>
    public void Save(string path)
    {
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("file", File);
                json.WriteNumber("sequence", Sequence);
                json.WriteString("period", Span.Kind == LedgerRetentionPeriod.Day ? "day" : "month");
                json.WriteString("from", LedgerExporter.FormatTimestamp(Span.From));
                json.WriteString("to", LedgerExporter.FormatTimestamp(Span.To));
                json.WriteString("format", Format == LedgerExportFormat.Csv ? "csv" : "jsonl");
                json.WriteNumber("rows", Contents.Rows);
                json.WriteString("cost_total", SqliteLedgerSchema.ToStoredDecimal(Contents.CostTotal));
                json.WriteNumber("unpriced_rows", UnpricedRows);
                json.WriteString("id_checksum", Contents.IdChecksum.ToString(CultureInfo.InvariantCulture));
                json.WriteNumber("bytes", Bytes);
                json.WriteString("sha256", Sha256);
                json.WriteString("exported_at", LedgerExporter.FormatTimestamp(ExportedAt));
                json.WriteBoolean("pruned", Pruned);
                if (PrunedAt is { } prunedAt)
                {
                    json.WriteString("pruned_at", LedgerExporter.FormatTimestamp(prunedAt));
                }
                else
                {
                    json.WriteNull("pruned_at");
                }

                json.WriteEndObject();
            }

            stream.Flush(flushToDisk: true);
        }

        System.IO.File.Move(temporary, path, overwrite: true);
    }
}

/// <summary>The names and read-backs of retention export files.</summary>
internal static partial class LedgerRetentionFiles
{
    /// <summary>The folder under the export folder where files are written until they are complete.</summary>
    public const string StagingFolder = ".staging";

    /// <summary>The file name of export number <paramref name="sequence"/> of <paramref name="span"/>: the first has no number.</summary>
    public static string FileName(LedgerRetentionSpan span, int sequence, LedgerExportFormat format) =>
        span.BaseName + (sequence > 1 ? "." + sequence.ToString(CultureInfo.InvariantCulture) : string.Empty) + (format == LedgerExportFormat.Csv ? ".csv" : ".jsonl");

    /// <summary>Parses a data file name written by <see cref="FileName"/>; false for any other name.</summary>
    public static bool TryParse(string fileName, out LedgerRetentionSpan span, out int sequence, out LedgerExportFormat format)
    {
        var match = NamePattern().Match(fileName);
        span = default;
        sequence = 0;
        format = LedgerExportFormat.Jsonl;
        if (!match.Success)
        {
            return false;
        }

        var year = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var month = int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
        if (month is < 1 or > 12 || year < 1)
        {
            return false;
        }

        if (match.Groups[3].Success)
        {
            var day = int.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture);
            if (day < 1 || day > DateTime.DaysInMonth(year, month))
            {
                return false;
            }

            span = LedgerRetentionSpan.Of(new DateTimeOffset(year, month, day, 0, 0, 0, TimeSpan.Zero), LedgerRetentionPeriod.Day);
        }
        else
        {
            span = LedgerRetentionSpan.Of(new DateTimeOffset(year, month, 1, 0, 0, 0, TimeSpan.Zero), LedgerRetentionPeriod.Month);
        }

        sequence = match.Groups[4].Success ? int.Parse(match.Groups[4].Value, CultureInfo.InvariantCulture) : 1;
        format = match.Groups[5].Value == "csv" ? LedgerExportFormat.Csv : LedgerExportFormat.Jsonl;
        return sequence >= 1;
    }

    /// <summary>The SHA-256 of a file, lower-case hex.</summary>
    public static async Task<string> Sha256Async(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
    }

    /// <summary>What a file holds (rows, exact cost, id checksum, unpriced rows), refusing a row outside <paramref name="span"/>.</summary>
    public static async Task<(LedgerPartitionContents Contents, long Unpriced)> ReadBackAsync(string path, LedgerExportFormat format, LedgerRetentionSpan span, CancellationToken cancellationToken)
    {
        var contents = default(LedgerPartitionContents);
        long unpriced = 0;
        await foreach (var (row, timestamp) in LedgerExportFile.ReadAsync(path, format, cancellationToken))
        {
            if (timestamp < span.From || timestamp >= span.To)
            {
                throw new InvalidOperationException(
                    $"The export '{path}' holds row {row.Id} at {LedgerExporter.FormatTimestamp(timestamp)}, outside its period [{LedgerExporter.FormatTimestamp(span.From)}, {LedgerExporter.FormatTimestamp(span.To)}): nothing of it is pruned.");
            }

            contents = contents.Add(row);
            unpriced += row.CostTotal is null ? 1 : 0;
        }

        return (contents, unpriced);
    }

    [GeneratedRegex(@"^ledger-(\d{4})-(\d{2})(?:-(\d{2}))?(?:\.(\d{1,6}))?\.(jsonl|csv)$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}
