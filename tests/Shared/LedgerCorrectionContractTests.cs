using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Shared;

/// <summary>
/// The contract of <see cref="ILedgerCorrections"/>, the same on SQLite and PostgreSQL: traffic with every 7th record
/// stored as an estimate; correcting those (plus a record that is not estimated and an id never stored) changes exactly
/// the estimated ones — usage, cost, flag — once, leaves every other row as written, and keeps the rollups equal to the
/// raw rows; an hour that lost raw rows to a prune is refused. Each backend's test class derives from it.
/// </summary>
/// <typeparam name="TStore">The store under test.</typeparam>
public abstract class LedgerCorrectionContractTests<TStore>
    where TStore : ILedgerStore, ILedgerCorrections, ILedgerExportStore, ILedgerRollupStore
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 22, 17, 0, TimeSpan.Zero);

    /// <summary>600 calls over 10 hours, every 7th flagged estimated (a worst case of 1,000 input and 4,000 output tokens).</summary>
    private static LedgerRecord[] Traffic() =>
        LedgerTraffic.Generate(600, seed: 11, T0, TimeSpan.FromMinutes(1))
            .Select((r, i) => i % 7 == 0 ? r with { UsageEstimated = true, Usage = r.Usage with { InputTokens = 1_000, OutputTokens = 4_000 } } : r)
            .ToArray();

    /// <summary>The reported usage of an estimated record: 10 input and 5 output tokens (the rest of its usage kept).</summary>
    private static TokenUsage Reported(LedgerRecord r) => r.Usage with { InputTokens = 10, OutputTokens = 5 };

    /// <summary>A price for the test, not the price book's: $1/MTok input, $5/MTok output — 10 × 0.000001 + 5 × 0.000005 = 0.000035.</summary>
    private static CostBreakdown? Price(LedgerRecord r) =>
        new CostBreakdown(r.Usage.InputTokens * 0.000001m, r.Usage.OutputTokens * 0.000005m, 0m, 0m, 0m);

    [Fact]
    public async Task Correcting_estimates_changes_only_the_estimated_rows_once_and_the_rollups_follow()
    {
        var stored = Traffic();
        await using var corrections = await StoreWithAsync(stored);
        var estimated = stored.Where(r => r.UsageEstimated).ToList();
        Assert.True(estimated.Count > 50, "the traffic has estimates to correct");
        var plain = stored.First(r => !r.UsageEstimated);
        List<(string Id, TokenUsage Usage)> asked =
        [
            .. estimated.Select(r => (r.Id, Reported(r))),
            (plain.Id, Reported(plain)), // not an estimate: never changed
            ("never-stored", new TokenUsage(1, 1)),
        ];

        Assert.Equal(estimated.Count, await corrections.CorrectEstimatesAsync(asked, Price));
        Assert.Equal(0, await corrections.CorrectEstimatesAsync(asked, Price)); // once only

        var all = await ReadRawAsync(corrections);
        var raw = all.ToDictionary(r => r.Id);
        Assert.Equal(stored.Length, raw.Count);
        foreach (var r in stored)
        {
            var now = raw[r.Id];
            if (r.UsageEstimated)
            {
                Assert.Equal((10L, 5L, 0.000035m, false), (now.Usage.InputTokens, now.Usage.OutputTokens, now.Cost!.Value.Total, now.UsageEstimated));
                Assert.Equal((r.Timestamp, r.Status, r.ErrorType, r.RequestId, r.KeyId, r.Usage.ServiceTier), (now.Timestamp, now.Status, now.ErrorType, now.RequestId, now.KeyId, now.Usage.ServiceTier));
            }
            else
            {
                Assert.Equal((r.Usage, r.Cost, r.UsageEstimated), (now.Usage, now.Cost, now.UsageEstimated));
            }
        }

        var rollups = await LedgerRollupOracle.ReadAllAsync(corrections);
        Assert.Equal(LedgerRollupOracle.Expected(all), LedgerRollupOracle.Describe(rollups));
        Assert.Equal(0L, rollups.Sum(u => u.EstimatedCalls));
    }

    /// <summary>
    /// Correcting an estimate whose hour lost a raw row to a prune is refused (that hour's rollups cannot be recomputed
    /// from its raw rows) and nothing of the correction is kept: the record still has its estimated usage and cost.
    /// </summary>
    [Fact]
    public async Task Correcting_an_estimate_in_an_hour_with_pruned_raw_rows_is_refused_and_changes_nothing()
    {
        var stored = Traffic();
        await using var store = await StoreWithAsync(stored);
        var target = stored.First(r => r.UsageEstimated);
        var at = target.Timestamp.UtcDateTime;
        var hour = new DateTimeOffset(at.Year, at.Month, at.Day, at.Hour, 0, 0, TimeSpan.Zero);
        var pruned = stored.First(r => !r.UsageEstimated && r.Timestamp >= hour && r.Timestamp < hour.AddHours(1));
        var batch = await store.DeleteExportedAsync([new LedgerExportedRow(pruned.Id, pruned.Cost?.Total)], pruned.Timestamp.AddTicks(1));
        Assert.Equal(1L, batch.Deleted); // the raw row is gone, its hour's rollups still count it

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => store.CorrectEstimatesAsync([(target.Id, Reported(target))], Price));
        Assert.Contains("hour to correct were pruned", refused.Message, StringComparison.Ordinal);

        var now = (await ReadRawAsync(store)).Single(r => r.Id == target.Id);
        Assert.Equal((target.Usage, target.Cost, true), (now.Usage, now.Cost, now.UsageEstimated));
    }

    /// <summary>A migrated store over a fresh database of this test, holding <paramref name="records"/>.</summary>
    protected abstract Task<TStore> StoreWithAsync(LedgerRecord[] records);

    private static async Task<List<LedgerRecord>> ReadRawAsync(TStore store)
    {
        var raw = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            raw.Add(record);
        }

        return raw;
    }
}
