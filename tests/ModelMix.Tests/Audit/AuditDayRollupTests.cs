using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Ledger;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Audit;

/// <summary>
/// The dashboard's read path on SQLite (docs/performance.md, "Dashboard and audit at 10M rows"): a day's rollup rows
/// summed per group, per-session sums and per-task p95 latencies computed in the database, all equal to the figures
/// derived from the records (the PostgreSQL twin is PostgresAuditWindowTests).
/// </summary>
public sealed class AuditDayRollupTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 0, 13, 0, TimeSpan.Zero);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task Day_summed_rollups_and_database_side_sessions_give_the_raw_figures()
    {
        var records = LedgerTraffic.Generate(6_000, seed: 26, T0, TimeSpan.FromSeconds(50)); // 3.5 days
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        for (var i = 0; i < records.Length; i += 500)
        {
            await store.WriteBatchAsync(records[i..(i + 500)]);
        }

        await AuditWindowOracle.AssertAsync(store, records, T0.AddMinutes(95).AddSeconds(13), T0.AddHours(80));

        // The summed path is the one taken: whole days are accepted summed, with fewer rows than their hours have.
        var options = new AuditOptions { From = T0, To = T0.AddHours(80) };
        var accumulator = new AuditAccumulator(PriceBook.Default, options, fromRollups: true);
        var days = (await LedgerRollupOracle.ReadAllAsync(store)).GroupBy(row => row.Hour.UtcDateTime.Date).Select(day => day.ToList()).ToList();
        var accepted = 0;
        foreach (var day in days)
        {
            var merged = AuditRollupSpans.Merge(day);
            Assert.Equal(day.Sum(row => row.Calls), merged.Sum(row => row.Calls));
            Assert.Equal(day.Sum(row => row.Cost.Total), merged.Sum(row => row.Cost.Total));
            if (merged.Count < day.Count && accumulator.CanAddRollupSpan(day.Min(row => row.Hour), day.Max(row => row.Hour).AddHours(1), merged))
            {
                accepted++;
            }
        }

        Assert.True(accepted >= 2, $"{accepted} of {days.Count} days summed");
    }
}
