using System.Text.Json;
using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Shared;

/// <summary>
/// The dashboard's day cache (<see cref="AuditDayCache"/>) on any store that keeps day versions, the same on SQLite and
/// PostgreSQL: after mixed traffic, a late row into a closed day, a repricing, a correction, an overrun booked on a
/// closed day's row and a prune, the report read
/// with the cache equals the report read without it to the last digit (the whole report serialized), and each change is
/// visible (the report differs from the one before it), so a cache that missed the change would fail here.
/// </summary>
internal static class AuditDayCacheContract
{
    /// <summary>1 March 2026 00:13 UTC: the traffic's first call.</summary>
    public static readonly DateTimeOffset T0 = new(2026, 3, 1, 0, 13, 0, TimeSpan.Zero);

    private static readonly DateTimeOffset Day0 = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The view's instant: 4 March 15:37:10 (1–3 March closed, 4 March partial).</summary>
    private static readonly DateTimeOffset Now = Day0.AddDays(3).AddHours(15).AddMinutes(37).AddSeconds(10);

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>
    /// The traffic: 3,000 mixed calls one every 100 s from <see cref="T0"/> (to 4 March ≈ 11:33), every 7th an estimate
    /// (1,000 input and 4,000 output tokens) that <see cref="RunAsync"/> corrects later, and two Sonnet 4.5 calls of one
    /// rollup group on 1 March 10:xx, one under the long-context threshold and one over it, so that hour is read from its
    /// raw rows until they are pruned (then from its rollups, and the what-if figures change).
    /// </summary>
    public static LedgerRecord[] Traffic()
    {
        var records = LedgerTraffic.Generate(3_000, seed: 31, T0, TimeSpan.FromSeconds(100), "dc")
            .Select((r, i) => i % 7 == 0 ? r with { UsageEstimated = true, Usage = r.Usage with { InputTokens = 1_000, OutputTokens = 4_000 } } : r)
            .ToList();
        LedgerRecord Long(string id, int minute, long input) => new()
        {
            Id = id,
            Timestamp = Day0.AddHours(10).AddMinutes(minute),
            RequestId = "req-" + id,
            KeyId = "key_long",
            TaskLabel = "long",
            Policy = "rules",
            RequestedModel = "claude-sonnet-4-5",
            RoutedModel = "claude-sonnet-4-5",
            Usage = new TokenUsage(input, 1_000),
            Cost = PriceBook.Default.Cost("claude-sonnet-4-5", new TokenUsage(input, 1_000), Day0.AddHours(10)),
            LatencyMs = 3_000,
            HttpStatus = 200,
        };
        records.Add(Long("long-1", 7, 150_000));
        records.Add(Long("long-2", 41, 250_000));
        return [.. records.OrderBy(r => r.Timestamp)];
    }

    /// <summary>Runs the contract on a migrated, empty store.</summary>
    /// <param name="store">The store.</param>
    /// <param name="scratch">A folder for the prune's export file.</param>
    /// <param name="bookOverrun">
    /// Adds an overrun (USD) to the stored row with the given id, by the UPDATE the store's budget code books an upstream
    /// overrun with after the row was written (SqliteBudgetStore.BookOverrun, PostgresBudgetStore's overrun booking):
    /// only the store's triggers see it, so only its overrun trigger can raise the day's version.
    /// </param>
    public static async Task RunAsync<TStore>(TStore store, string scratch, Func<string, decimal, Task> bookOverrun)
        where TStore : ILedgerStore, ILedgerRollupStore, ILedgerCorrections, ILedgerExportStore
    {
        var records = Traffic();
        for (var i = 0; i < records.Length; i += 500)
        {
            await store.WriteBatchAsync(records[i..Math.Min(records.Length, i + 500)]);
        }

        // As DashboardEndpoint asks (baseline searched, routing start found), a first view fills the cache, a second reads it.
        var dashboard = new AuditOptions { From = Day0, To = Now.AddTicks(1), RecentCount = 25, SessionWindow = TimeSpan.FromDays(1), TaskLatency = false, DayCache = new AuditDayCache() };
        await SameAsync(store, dashboard);
        await SameAsync(store, dashboard);
        Assert.Equal(3, dashboard.DayCache!.Misses); // 1–3 March computed once (4 March is partial: never kept)
        Assert.Equal(3, dashboard.DayCache.Hits);
        Assert.Equal(1, dashboard.DayCache.BaselineHits); // the second view's search

        // The rest with the baseline given, so no step changes the routing start (which would empty the cache anyway).
        var options = dashboard with { BaselineModel = "claude-opus-4-5", RoutingStart = Day0, DayCache = new AuditDayCache() };
        async Task<string> ChangedAsync(string before, string what)
        {
            await SameAsync(store, dashboard); // the dashboard's own options too: its baseline search is kept as well
            var now = await SameAsync(store, options);
            Assert.True(now != before, $"{what} changed nothing in the report: the test would not see a stale cache");
            return now;
        }

        var previous = await SameAsync(store, options);
        Assert.Equal(previous, await SameAsync(store, options));
        var hits = options.DayCache!.Hits;
        Assert.True(hits >= 3, $"{hits} days read from the cache");

        // A late row into a closed day (2 March), as a batch result or a reconciled intent arrives: $1.2345678 more.
        var late = records[1_000] with { Id = "late-1", Timestamp = Day0.AddDays(1).AddHours(9).AddSeconds(1), Cost = new CostBreakdown(1.2345678m, 0m, 0m, 0m, 0m) };
        await store.WriteBatchAsync([late]);
        previous = await ChangedAsync(previous, "a late row into 2 March");

        // A repricing of 2 March 05:00–07:00: every call of those hours at $1/MTok input, $5/MTok output.
        static CostBreakdown? Price(LedgerRecord r) => new CostBreakdown(r.Usage.InputTokens * 0.000001m, r.Usage.OutputTokens * 0.000005m, 0m, 0m, 0m);
        Assert.True(await store.RepriceAsync(Day0.AddDays(1).AddHours(5), Day0.AddDays(1).AddHours(7), Price) > 0);
        previous = await ChangedAsync(previous, "a repricing of 2 March");

        // A correction of the estimates of 3 March (their reported usage: 10 input and 5 output tokens).
        var estimates = records.Where(r => r.UsageEstimated && r.Timestamp >= Day0.AddDays(2) && r.Timestamp < Day0.AddDays(3))
            .Select(r => (r.Id, r.Usage with { InputTokens = 10, OutputTokens = 5 })).ToList();
        Assert.True(estimates.Count > 50, $"{estimates.Count} estimates");
        Assert.Equal(estimates.Count, await store.CorrectEstimatesAsync(estimates, Price));
        previous = await ChangedAsync(previous, "a correction on 3 March");

        // An upstream overrun booked on a stored row of 2 March after the day closed (a settlement or a lease charge that
        // arrives late): $0.4321 on that row's key, which the report's overrun per key shows.
        var overrun = records.First(r => r.Timestamp >= Day0.AddDays(1).AddHours(12) && r.Cost is not null && r.KeyId is not null);
        await bookOverrun(overrun.Id, 0.4321m);
        previous = await ChangedAsync(previous, "an overrun booked on 2 March");

        // A prune of 1 March: its long-context hour is then read from its rollups, not its raw rows.
        var cut = Day0.AddDays(1);
        var pruned = await LedgerPruner.PruneAsync(store, new LedgerPruneOptions { Before = cut, ExportPath = Path.Combine(scratch, "day-cache-prune.jsonl") });
        Assert.True(pruned.Deleted > 800, $"{pruned.Deleted} rows pruned");
        await ChangedAsync(previous, "a prune of 1 March");
    }

    /// <summary>The report with the cache, checked equal to the report without it; returns it serialized.</summary>
    private static async Task<string> SameAsync(ILedgerStore store, AuditOptions options)
    {
        var cached = Json(await AuditRunner.RunAsync(store, PriceBook.Default, options));
        var plain = Json(await AuditRunner.RunAsync(store, PriceBook.Default, options with { DayCache = null }));
        Assert.Equal(plain, cached);
        return cached;
    }

    private static string Json(AuditReport report) => JsonSerializer.Serialize(report, Indented);
}
