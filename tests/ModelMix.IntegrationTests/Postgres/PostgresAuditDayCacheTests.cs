using ModelMix.Postgres;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// The dashboard's day cache on PostgreSQL (<see cref="AuditDayCacheContract"/>; the SQLite twin is AuditDayCacheTests):
/// equal to the uncached report after mixed traffic, a late row, a repricing, a correction, an overrun booked
/// on a closed day's row and a prune.
/// </summary>
public sealed class PostgresAuditDayCacheTests : IAsyncLifetime
{
    private PostgresServer _server = null!;
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "modelmix-daycache-" + Guid.NewGuid().ToString("N"));

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.GetAsync();
        Directory.CreateDirectory(_scratch);
    }

    public Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        Directory.Delete(_scratch, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task The_cached_report_equals_the_uncached_one_after_every_kind_of_change_to_a_closed_day()
    {
        var connectionString = await _server.CreateDatabaseAsync("daycache");
        await using var store = new PostgresLedgerStore(connectionString);
        await store.MigrateAsync();
        await AuditDayCacheContract.RunAsync(store, _scratch, async (id, usd) =>
        {
            // The booking's UPDATE in PostgresBudgetStore (an overrun added to the row's own).
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var update = new NpgsqlCommand("UPDATE ledger_records SET overrun_usd = COALESCE(overrun_usd, 0) + @usd WHERE id = @id;", connection);
            update.Parameters.AddWithValue("usd", usd);
            update.Parameters.AddWithValue("id", id);
            Assert.Equal(1, await update.ExecuteNonQueryAsync());
        });
    }
}
