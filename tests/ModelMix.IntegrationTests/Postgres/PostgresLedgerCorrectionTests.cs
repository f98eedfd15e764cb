using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// Correcting estimated records (<see cref="ILedgerCorrections"/>) on a real PostgreSQL server: only the estimated ones
/// change, once, the hourly rollups stay equal to the raw rows, and an hour with pruned raw rows is refused
/// (<see cref="LedgerCorrectionContractTests{TStore}"/>).
/// </summary>
public sealed class PostgresLedgerCorrectionTests : LedgerCorrectionContractTests<PostgresLedgerStore>, IAsyncLifetime
{
    private string _connectionString = string.Empty;

    public async Task InitializeAsync() => _connectionString = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("corrections");

    public Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        return Task.CompletedTask;
    }

    protected override async Task<PostgresLedgerStore> StoreWithAsync(LedgerRecord[] records)
    {
        var store = new PostgresLedgerStore(_connectionString);
        await store.MigrateAsync();
        await store.WriteBatchAsync(records);
        return store;
    }
}
