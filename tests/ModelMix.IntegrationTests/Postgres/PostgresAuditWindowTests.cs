using ModelMix.Postgres;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// The dashboard's read path on PostgreSQL (docs/performance.md, "Dashboard and audit at 10M rows"): per-session sums and
/// per-task p95 latencies computed in the database, and the audit over day-summed rollups, equal to the figures derived
/// from the records (the SQLite twin is AuditDayRollupTests).
/// </summary>
public sealed class PostgresAuditWindowTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 0, 13, 0, TimeSpan.Zero);

    private PostgresServer _server = null!;

    public async Task InitializeAsync() => _server = await PostgresServer.GetAsync();

    public Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Database_side_sessions_and_latencies_and_day_summed_rollups_give_the_raw_figures()
    {
        var records = LedgerTraffic.Generate(6_000, seed: 26, T0, TimeSpan.FromSeconds(50)); // 3.5 days
        await using var store = new PostgresLedgerStore(await _server.CreateDatabaseAsync("auditwindow"));
        await store.MigrateAsync();
        for (var i = 0; i < records.Length; i += 500)
        {
            await store.WriteBatchAsync(records[i..(i + 500)]);
        }

        await AuditWindowOracle.AssertAsync(store, records, T0.AddMinutes(95).AddSeconds(13), T0.AddHours(80));
    }
}
