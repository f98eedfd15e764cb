using System.Globalization;
using ModelMix.Ledger;

namespace ModelMix.Tests.Shared;

/// <summary>
/// The per-session sums of a range computed here from raw records, independently of the stores' SQL, against which the
/// stores' <see cref="ILedgerRollupStore.ReadSessionSummariesAsync"/> (the writer's per-session hourly rows) is checked.
/// </summary>
internal static class LedgerSessionOracle
{
    /// <summary>Each (key, session) of [<paramref name="from"/>, <paramref name="to"/>): first, last, cost (unpriced 0), calls; sorted.</summary>
    public static List<string> Expected(IEnumerable<LedgerRecord> records, DateTimeOffset? from = null, DateTimeOffset? to = null) =>
        [.. records
            .Where(r => r.SessionId is not null && (from is null || r.Timestamp >= from) && (to is null || r.Timestamp < to))
            .GroupBy(r => (r.KeyId, r.SessionId))
            .Select(g => Describe(new LedgerSessionSummary(
                g.Key.KeyId, g.Key.SessionId!, g.Min(r => r.Timestamp), g.Max(r => r.Timestamp), g.Sum(r => r.Cost?.Total ?? 0m), g.LongCount())))
            .Order(StringComparer.Ordinal)];

    /// <summary>What the store reads for the range, described and sorted as <see cref="Expected"/>.</summary>
    public static async Task<List<string>> ReadAsync(ILedgerRollupStore store, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        var rows = new List<string>();
        await foreach (var summary in store.ReadSessionSummariesAsync(from, to))
        {
            rows.Add(Describe(summary));
        }

        return [.. rows.Order(StringComparer.Ordinal)];
    }

    private static string Describe(LedgerSessionSummary s) => string.Create(
        CultureInfo.InvariantCulture, $"{s.KeyId ?? "(none)"}|{s.SessionId}|{s.First:O}|{s.Last:O}|{s.Cost.ToString("0.##########################", CultureInfo.InvariantCulture)}|{s.Calls}");
}
