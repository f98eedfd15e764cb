using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Tests.Cli;

namespace ModelMix.Tests.Audit;

/// <summary>
/// A session is its key's in the audit too (issue 20 item 7): two keys that both name a session <c>s1</c> are two
/// conversations in the per-session costs and the runaway flags. Prices (4.x tiers): Haiku 4.5 $1 / $5 per MTok.
/// </summary>
public sealed class AuditSessionPerKeyTests
{
    [Fact]
    public async Task Two_keys_naming_the_same_session_are_two_sessions()
    {
        var at = AuditLedger.Day1.AddHours(10);
        using var folder = new TempFolder();
        var path = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"),
        [
            // Each call: 1000 × $1/M + 100 × $5/M = 0.001 + 0.0005 = 0.0015.
            AuditLedger.Record("a1", at, "claude-haiku-4-5", "chat", 1000, 100, 0.0015m, key: "k1", session: "s1"),
            AuditLedger.Record("a2", at.AddMinutes(1), "claude-haiku-4-5", "chat", 1000, 100, 0.0015m, key: "k1", session: "s1"),
            AuditLedger.Record("b1", at.AddMinutes(2), "claude-haiku-4-5", "chat", 1000, 100, 0.0015m, key: "k2", session: "s1"),
        ]);
        await using var store = new SqliteLedgerStore(path);
        await store.MigrateAsync();

        var report = await AuditRunner.RunAsync(store, TestPrices.Tiers4x, new AuditOptions { From = AuditLedger.Day1, To = AuditLedger.Day1.AddDays(1) });

        // k1's s1: 0.0015 + 0.0015 = 0.003; k2's s1: 0.0015. Two sessions, mean (0.003 + 0.0015) / 2 = 0.00225, total 0.0045
        // (one session shared by the keys would be 1 session of 0.0045).
        Assert.Equal(2, report.Sessions!.Sessions);
        Assert.Equal(0.00225m, report.Sessions.MeanUsd);
        Assert.Equal(0.0045m, report.Sessions.TotalUsd);
    }
}
