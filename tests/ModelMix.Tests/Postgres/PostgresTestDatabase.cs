using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.Tests.Postgres;

/// <summary>A fresh database on the test run's PostgreSQL server (<see cref="PostgresServer"/>), dropped at the end.</summary>
internal sealed class PostgresTestDatabase
{
    public string ConnectionString { get; private set; } = string.Empty;

    public async Task CreateAsync() => ConnectionString = await (await PostgresServer.GetAsync()).CreateDatabaseAsync();

    /// <summary>A migrated PostgreSQL ledger store on this database (the ledger contract suites' store).</summary>
    public async Task<ILedgerStore> OpenLedgerAsync()
    {
        var store = new PostgresLedgerStore(ConnectionString);
        await store.MigrateAsync();
        return store;
    }

    public static Task DeleteAsync()
    {
        // The database is left for the cluster's teardown: dropping it would wait for the pools of stores still closing.
        NpgsqlConnection.ClearAllPools();
        return Task.CompletedTask;
    }
}
