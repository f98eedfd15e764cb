using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Pricing;
using Xunit;

namespace ModelMix.Tests.Shared;

/// <summary>
/// Checks a store's database-side per-session sums and per-task p95 latencies against the same figures derived here from
/// the records written, and the dashboard-shaped audit (day-summed rollups, sessions summed in the database) against the
/// record-by-record audit: for both stores (SQLite in the unit tests, PostgreSQL in the integration tests).
/// </summary>
internal static class AuditWindowOracle
{
    /// <summary>Every check, over <paramref name="records"/> already written to <paramref name="store"/>.</summary>
    public static async Task AssertAsync<TStore>(TStore store, IReadOnlyList<LedgerRecord> records, DateTimeOffset from, DateTimeOffset to)
        where TStore : ILedgerStore, ILedgerRollupStore
    {
        var inWindow = records.Where(r => r.Timestamp >= from && r.Timestamp < to).ToList();

        // Sessions: one row per (key, session id), summed as the audit sums calls one by one (an unpriced call pays 0).
        var expectedSessions = inWindow.Where(r => r.SessionId is not null)
            .GroupBy(r => (r.KeyId, r.SessionId))
            .Select(g => $"{g.Key.KeyId}|{g.Key.SessionId}|{g.Min(r => r.Timestamp):O}|{g.Max(r => r.Timestamp):O}|{g.Sum(r => r.Cost?.Total ?? 0m)}|{g.Count()}")
            .Order(StringComparer.Ordinal).ToList();
        var sessions = new List<string>();
        await foreach (var s in store.ReadSessionSummariesAsync(from, to))
        {
            sessions.Add($"{s.KeyId}|{s.SessionId}|{s.First:O}|{s.Last:O}|{s.Cost}|{s.Calls}");
        }

        Assert.True(expectedSessions.Count > 3, $"{expectedSessions.Count} sessions");
        Assert.Equal(expectedSessions, sessions.Order(StringComparer.Ordinal).ToList());

        // p95 of first attempts per task: the ⌈0.95·n⌉-th smallest (n = 21: the 20th; n = 40: the 38th).
        var expectedP95 = inWindow.Where(r => r.Attempt == 1 && r.EscalatedFrom is null && r.LatencyMs > 0)
            .GroupBy(r => r.TaskLabel ?? "(none)")
            .Select(g =>
            {
                var sorted = g.Select(r => r.LatencyMs).Order().ToList();
                var rank = (int)Math.Ceiling(sorted.Count * 95m / 100m);
                return $"{g.Key}={sorted[rank - 1]}";
            })
            .Order(StringComparer.Ordinal).ToList();
        var p95 = new List<string>();
        await foreach (var t in store.ReadFirstAttemptP95LatencyAsync(from, to))
        {
            p95.Add($"{t.Task}={t.P95LatencyMs}");
        }

        Assert.True(expectedP95.Count > 1);
        Assert.Equal(expectedP95, p95.Order(StringComparer.Ordinal).ToList());

        // The audit from rollups (whole days summed per group, sessions and latencies from the database) is the raw one.
        var options = new AuditOptions { From = from, To = to, RecentCount = 25 };
        var fromRaw = await AuditRunner.RunAsync(store, PriceBook.Default, options with { UseRollups = false });
        var fromRollups = await AuditRunner.RunAsync(store, PriceBook.Default, options);
        Assert.True(fromRaw.Calls > 1_000);
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(fromRaw), System.Text.Json.JsonSerializer.Serialize(fromRollups));

        // The dashboard's audit leaves the latencies out and keeps every other figure.
        var dashboard = await AuditRunner.RunAsync(store, PriceBook.Default, options with { TaskLatency = false });
        Assert.All(dashboard.TaskCosts, task => Assert.Null(task.P95LatencyMs));
        Assert.Contains(fromRollups.TaskCosts, task => task.P95LatencyMs is not null);
        Assert.Equal(fromRollups.TotalUsd, dashboard.TotalUsd);
        Assert.Equal(
            System.Text.Json.JsonSerializer.Serialize(fromRollups with { TaskCosts = [.. fromRollups.TaskCosts.Select(t => t with { P95LatencyMs = null })] }),
            System.Text.Json.JsonSerializer.Serialize(dashboard));
    }
}
