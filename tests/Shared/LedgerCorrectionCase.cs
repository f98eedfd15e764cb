using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Shared;

/// <summary>
/// The contract of <see cref="ILedgerCorrections"/>, the same on SQLite and PostgreSQL: traffic with every 7th record
/// stored as an estimate; correcting those (plus a record that is not estimated and an id never stored) changes exactly
/// the estimated ones — usage, cost, flag — once, leaves every other row as written, and keeps the rollups equal to the
/// raw rows.
/// </summary>
internal static class LedgerCorrectionCase
{
    public static readonly DateTimeOffset T0 = new(2026, 3, 1, 22, 17, 0, TimeSpan.Zero);

    /// <summary>600 calls over 10 hours, every 7th flagged estimated (a worst case of 1,000 input and 4,000 output tokens).</summary>
    public static LedgerRecord[] Traffic() =>
        LedgerTraffic.Generate(600, seed: 11, T0, TimeSpan.FromMinutes(1))
            .Select((r, i) => i % 7 == 0 ? r with { UsageEstimated = true, Usage = r.Usage with { InputTokens = 1_000, OutputTokens = 4_000 } } : r)
            .ToArray();

    /// <summary>The reported usage of an estimated record: 10 input and 5 output tokens (the rest of its usage kept).</summary>
    public static TokenUsage Reported(LedgerRecord r) => r.Usage with { InputTokens = 10, OutputTokens = 5 };

    /// <summary>A price for the test, not the price book's: $1/MTok input, $5/MTok output — 10 × 0.000001 + 5 × 0.000005 = 0.000035.</summary>
    public static CostBreakdown? Price(LedgerRecord r) =>
        new CostBreakdown(r.Usage.InputTokens * 0.000001m, r.Usage.OutputTokens * 0.000005m, 0m, 0m, 0m);

    /// <summary>Runs the case against <paramref name="corrections"/>; <paramref name="readRaw"/> reads every stored record.</summary>
    public static async Task RunAsync(ILedgerCorrections corrections, LedgerRecord[] stored, Func<Task<List<LedgerRecord>>> readRaw)
    {
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

        var raw = (await readRaw()).ToDictionary(r => r.Id);
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
    }
}
