using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// Correcting estimated records (<see cref="ILedgerCorrections"/>) on a real PostgreSQL server: only the estimated ones
/// change, once, and the hourly rollups stay equal to the raw rows (<see cref="LedgerCorrectionCase"/>).
/// </summary>
public sealed class PostgresLedgerCorrectionTests : IAsyncLifetime
{
    private string _connectionString = string.Empty;

    public async Task InitializeAsync() => _connectionString = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("corrections");

    public Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Correcting_estimates_changes_only_the_estimated_rows_once_and_the_rollups_follow()
    {
        var records = LedgerCorrectionCase.Traffic();
        await using var store = new PostgresLedgerStore(_connectionString);
        await store.MigrateAsync();
        await store.WriteBatchAsync(records);

        await LedgerCorrectionCase.RunAsync(store, records, () => ReadRawAsync(store));

        var all = await ReadRawAsync(store);
        var rollups = await LedgerRollupOracle.ReadAllAsync(store);
        Assert.Equal(LedgerRollupOracle.Expected(all), LedgerRollupOracle.Describe(rollups));
        Assert.Equal(0L, rollups.Sum(u => u.EstimatedCalls));
    }

    private static async Task<List<LedgerRecord>> ReadRawAsync(PostgresLedgerStore store)
    {
        var raw = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            raw.Add(record);
        }

        return raw;
    }
}
