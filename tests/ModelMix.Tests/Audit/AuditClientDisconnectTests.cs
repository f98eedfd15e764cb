using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Tests.Cli;

namespace ModelMix.Tests.Audit;

/// <summary>
/// Calls paid for clients that hung up, counted per key, and records with an estimated usage. Prices (4.x tiers, per
/// MTok): Haiku 4.5 $1/$5; each record's cost below is its input + output at those.
/// </summary>
public sealed class AuditClientDisconnectTests
{
    private static async Task<AuditReport> AuditAsync(IReadOnlyList<LedgerRecord> records)
    {
        using var folder = new TempFolder();
        var path = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), records);
        await using var store = new SqliteLedgerStore(path);
        await store.MigrateAsync();
        return await AuditRunner.RunAsync(store, TestPrices.Tiers4x, new AuditOptions { From = AuditLedger.Day1, To = AuditLedger.Day1.AddDays(1) });
    }

    [Fact]
    public async Task Calls_of_clients_that_hung_up_are_counted_per_key_and_flagged()
    {
        var at = AuditLedger.Day1.AddHours(9);
        var report = await AuditAsync(
        [
            // 1000 × $1/M + 200 × $5/M = 0.001 + 0.001 = 0.002: answered after the client left.
            AuditLedger.Record("d1", at, "claude-haiku-4-5", "chat", 1000, 200, 0.002m) with { KeyId = "key-a", ClientDisconnected = true },
            // 400 × $1/M + 100 × $5/M = 0.0004 + 0.0005 = 0.0009: stopped, billed its estimate.
            AuditLedger.Record("d2", at.AddMinutes(1), "claude-haiku-4-5", "chat", 400, 100, 0.0009m) with { KeyId = "key-a", ClientDisconnected = true, UsageEstimated = true, Status = LedgerStatus.Failed },
            // 1000 × $1/M + 100 × $5/M = 0.0015: key-b's client left too.
            AuditLedger.Record("d3", at.AddMinutes(2), "claude-haiku-4-5", "chat", 1000, 100, 0.0015m) with { KeyId = "key-b", ClientDisconnected = true },
            // 0.0015: an ordinary call, not counted as a hang-up; a stalled stream's estimate (client still there).
            AuditLedger.Record("d4", at.AddMinutes(3), "claude-haiku-4-5", "chat", 1000, 100, 0.0015m) with { KeyId = "key-b", UsageEstimated = true },
        ]);

        // key-a: d1 + d2 = 2 calls, 0.002 + 0.0009 = 0.0029; key-b: d3 = 1 call, 0.0015. Dearest first.
        Assert.Equal(
            [new AuditBucket("key-a", 2, 0.0029m, 0), new AuditBucket("key-b", 1, 0.0015m, 0)],
            report.ClientDisconnectsByKey);
        Assert.Equal(2, report.EstimatedUsageCalls); // d2, d4
        // Their cost is in the totals: 0.002 + 0.0009 + 0.0015 + 0.0015 = 0.0059.
        Assert.Equal(0.0059m, report.TotalUsd);
        var flag = Assert.Single(report.Flags, f => f.Kind == AuditFlagKind.ClientDisconnected);
        Assert.Contains("3 call(s) costing $0.0044", flag.Message, StringComparison.Ordinal); // 0.0029 + 0.0015
        Assert.Contains("key key-a, 2 call(s), $0.0029", flag.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_hang_ups_there_is_no_flag()
    {
        var report = await AuditAsync([AuditLedger.Record("n1", AuditLedger.Day1.AddHours(1), "claude-haiku-4-5", "chat", 1000, 100, 0.0015m)]);

        Assert.Empty(report.ClientDisconnectsByKey);
        Assert.DoesNotContain(report.Flags, f => f.Kind == AuditFlagKind.ClientDisconnected);
    }
}
