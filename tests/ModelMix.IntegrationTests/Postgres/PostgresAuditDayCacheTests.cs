using ModelMix.Postgres;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// The dashboard's day cache on PostgreSQL (<see cref="AuditDayCacheContract"/>; the SQLite twin is AuditDayCacheTests):
/// equal to the uncached report after mixed traffic, a late row, a repricing, a correction and a prune.
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
        await using var store = new PostgresLedgerStore(await _server.CreateDatabaseAsync("daycache"));
        await store.MigrateAsync();
        await AuditDayCacheContract.RunAsync(store, _scratch);
    }
}
