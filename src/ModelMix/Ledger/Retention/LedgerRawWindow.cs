using System.Globalization;

namespace ModelMix.Ledger;

/// <summary>
/// Which raw rows a report covers once retention pruned older ones (docs/ledger.md, "Automatic retention"): the audit,
/// its recommendations and the dashboard say so when their range reaches before the oldest raw row kept.
/// </summary>
internal static class LedgerRawWindow
{
    /// <summary>The oldest raw row's timestamp; null when the ledger holds none (or the store cannot page its rows).</summary>
    /// <param name="store">The ledger.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public static async Task<DateTimeOffset?> OldestRawRowAsync(ILedgerStore store, CancellationToken cancellationToken = default)
    {
        if (store is not ILedgerExportStore exporter)
        {
            return null;
        }

        await foreach (var record in exporter.ReadPageAsync(LedgerQuery.All, null, 1, cancellationToken))
        {
            return record.Timestamp;
        }

        return null;
    }

    /// <summary>
    /// The note to show with a report whose first call (from the rollups) is <paramref name="firstInRange"/>, when that is
    /// before the oldest raw row kept (<paramref name="rawFrom"/>); null when the report's range holds raw rows throughout.
    /// </summary>
    /// <param name="rawFrom">The oldest raw row kept (<see cref="OldestRawRowAsync"/>); null when none is kept.</param>
    /// <param name="firstInRange">The report's first call; null when the range is empty.</param>
    public static string? Note(DateTimeOffset? rawFrom, DateTimeOffset? firstInRange)
    {
        if (firstInRange is not { } first || (rawFrom is { } kept && first >= kept))
        {
            return null;
        }

        if (rawFrom is not { } from)
        {
            return "No raw ledger rows are kept for this range (exported and pruned by retention): spend, calls, tokens, breakdowns and savings " +
                "come from the hourly rollups and stay exact; per-session statistics, runaway flags, p95 latency, the escalated-request count and recent calls are empty.";
        }

        var at = from.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        return $"Raw ledger rows from {at} UTC (older ones were exported and pruned by retention): this range starts before them. Spend, calls, tokens, " +
            $"breakdowns and savings before {at} come from the hourly rollups and stay exact; per-session statistics, runaway flags, p95 latency, " +
            $"the escalated-request count and recent calls cover {at} onwards only.";
    }
}
