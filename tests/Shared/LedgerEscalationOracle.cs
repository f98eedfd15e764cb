using System.Globalization;
using ModelMix.Ledger;

namespace ModelMix.Tests.Shared;

/// <summary>
/// Traffic whose requests escalate across hour boundaries, and the escalated-request count of a range computed here from
/// the raw records (<c>COUNT(DISTINCT request_id)</c> of the escalation rows, independently of the stores), against which
/// the stores' <see cref="ILedgerRollupStore.CountEscalatedRequestsAsync"/> (the writer's escalation rollup) is checked.
/// </summary>
internal static class LedgerEscalationOracle
{
    /// <summary>
    /// <paramref name="requests"/> requests from <paramref name="start"/>, one every 50 s, each of one to five attempts:
    /// the first a plain call, later ones escalations (about 60 %) or retries, 0–40 minutes apart, and now and then
    /// (one request in 15) one more escalation two to five hours later; a routing call (attempt 0) carrying an
    /// escalated-from model now and then, which the count leaves out. The rest of each record is <see cref="LedgerTraffic"/>'s.
    /// </summary>
    public static List<LedgerRecord> Generate(int requests, int seed, DateTimeOffset start)
    {
        var random = new Random(seed);
        var records = new List<LedgerRecord>();
        var n = 0L;
        for (var r = 0; r < requests; r++)
        {
            var request = "esc-" + r.ToString(CultureInfo.InvariantCulture);
            var at = start + TimeSpan.FromSeconds(50 * r);
            var attempts = random.Next(1, 6);
            for (var attempt = 0; attempt <= attempts; attempt++)
            {
                if (attempt == 0 && random.Next(10) != 0)
                {
                    continue; // a routing call for one request in ten
                }

                var escalated = attempt == 0 || (attempt >= 2 && random.Next(10) < 6) ? "claude-haiku-4-5" : null;
                records.Add(LedgerTraffic.One(random, n, at, "e") with { RequestId = request, Attempt = attempt, EscalatedFrom = escalated });
                n++;
                at += TimeSpan.FromSeconds(random.Next(1, 2_400));
            }

            if (random.Next(15) == 0)
            {
                at += TimeSpan.FromMinutes(random.Next(120, 300));
                records.Add(LedgerTraffic.One(random, n, at, "e") with { RequestId = request, Attempt = attempts + 1, EscalatedFrom = "claude-sonnet-4-5" });
                n++;
            }
        }

        return records;
    }

    /// <summary>The requests with an escalation attempt (escalated-from set, attempt not 0) in [<paramref name="from"/>, <paramref name="to"/>).</summary>
    public static long Expected(IEnumerable<LedgerRecord> records, DateTimeOffset? from, DateTimeOffset? to) =>
        records
            .Where(r => r.EscalatedFrom is not null && r.Attempt != 0 && (from is null || r.Timestamp >= from) && (to is null || r.Timestamp < to))
            .Select(r => r.RequestId)
            .Distinct(StringComparer.Ordinal)
            .LongCount();

    /// <summary>
    /// Ranges that exercise the rule: open ends, whole hours, starts and ends inside hours, a range inside one hour, one
    /// across one hour boundary with no whole hour, a range of whole days.
    /// </summary>
    public static List<(DateTimeOffset? From, DateTimeOffset? To)> Ranges(DateTimeOffset start, DateTimeOffset end)
    {
        var hour = new DateTimeOffset(start.UtcTicks - (start.UtcTicks % TimeSpan.TicksPerHour), TimeSpan.Zero);
        DateTimeOffset?[] froms = [null, hour, hour.AddHours(1), hour.AddHours(3).AddMinutes(17), hour.AddHours(9).AddSeconds(1), hour.AddDays(1)];
        DateTimeOffset?[] tos = [null, end, hour.AddHours(4), hour.AddHours(6).AddMinutes(41), hour.AddHours(13), hour.AddDays(1).AddHours(2).AddMinutes(5)];
        var ranges = new List<(DateTimeOffset?, DateTimeOffset?)>();
        foreach (var from in froms)
        {
            foreach (var to in tos)
            {
                if (from is null || to is null || from < to)
                {
                    ranges.Add((from, to));
                }
            }
        }

        ranges.Add((hour.AddHours(5).AddMinutes(10), hour.AddHours(5).AddMinutes(50))); // inside one hour
        ranges.Add((hour.AddHours(5).AddMinutes(10), hour.AddHours(6).AddMinutes(50))); // across one boundary, no whole hour
        ranges.Add((hour.AddHours(5).AddMinutes(10), hour.AddHours(7).AddMinutes(50))); // one whole hour
        return ranges;
    }

    /// <summary>Asserts the store's count equals the raw records' for every range of <see cref="Ranges"/>; returns how many ranges.</summary>
    public static async Task<int> AssertAllRangesAsync(ILedgerRollupStore store, IReadOnlyCollection<LedgerRecord> stored, DateTimeOffset start)
    {
        var end = stored.Max(r => r.Timestamp).AddTicks(1);
        var ranges = Ranges(start, end);
        foreach (var (from, to) in ranges)
        {
            var expected = Expected(stored, from, to);
            var actual = await store.CountEscalatedRequestsAsync(from, to);
            Xunit.Assert.True(expected == actual, $"[{from:O}, {to:O}): expected {expected} escalated requests, read {actual}");
        }

        return ranges.Count;
    }
}
