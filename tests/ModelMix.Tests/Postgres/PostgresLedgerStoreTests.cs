using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Tests.Ledger;
using Npgsql;

namespace ModelMix.Tests.Postgres;

/// <summary>The ledger contract on a real PostgreSQL server, plus what is particular to PostgreSQL.</summary>
public sealed class PostgresLedgerStoreTests : LedgerStoreContractTests, IAsyncLifetime
{
    private readonly PostgresTestDatabase _db = new();

    public Task InitializeAsync() => _db.CreateAsync();

    public Task DisposeAsync() => PostgresTestDatabase.DeleteAsync();

    protected override Task<ILedgerStore> OpenAsync() => _db.OpenLedgerAsync();

    [Fact]
    public async Task Costs_are_stored_as_exact_numeric()
    {
        await using (var store = await OpenAsync())
        {
            await store.WriteBatchAsync([LedgerRecords.Simple(1) with { Cost = new ModelMix.Pricing.CostBreakdown(0.000000001m, 0.1m, 0m, 0m, 0.333333333333m) }]);
        }

        await using var connection = new NpgsqlConnection(_db.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_typeof(cost_total)::text, cost_total::text FROM ledger_records;", connection);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("numeric", reader.GetString(0));
        Assert.Equal("0.433333334333", reader.GetString(1));
    }

    [Fact]
    public async Task Three_replicas_migrating_at_once_migrate_once_and_write_to_one_ledger()
    {
        var stores = Enumerable.Range(0, 3).Select(_ => new PostgresLedgerStore(_db.ConnectionString)).ToArray();
        await Task.WhenAll(stores.Select(store => store.MigrateAsync()));
        await Task.WhenAll(stores.Select((store, i) => store.WriteBatchAsync(LedgerRecords.Many(100, offset: i * 50))));

        Assert.Equal(200, await stores[0].CountAsync(LedgerQuery.All));
        foreach (var store in stores)
        {
            await store.DisposeAsync();
        }

        await using var connection = new NpgsqlConnection(_db.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT version FROM modelmix_schema_versions WHERE component = 'ledger';", connection);
        Assert.Equal(PostgresLedgerStore.SchemaVersion, (int)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task A_database_with_a_newer_schema_is_refused_with_a_clear_message_without_the_password()
    {
        var withPassword = new NpgsqlConnectionStringBuilder(_db.ConnectionString) { Password = "s3cret-pass" }.ConnectionString;
        await using (var connection = new NpgsqlConnection(_db.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "CREATE TABLE modelmix_schema_versions (component text PRIMARY KEY, version integer NOT NULL); INSERT INTO modelmix_schema_versions VALUES ('ledger', 99);",
                connection);
            await command.ExecuteNonQueryAsync();
        }

        await using var store = new PostgresLedgerStore(withPassword);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.MigrateAsync());

        Assert.Contains("schema version 99", error.Message, StringComparison.Ordinal);
        Assert.Contains("newer", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pass", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteBatchAsync(LedgerRecords.Many(1)));
    }

    [Fact]
    public async Task Using_the_store_before_migrating_is_a_clear_error()
    {
        await using var store = new PostgresLedgerStore(_db.ConnectionString);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.CountAsync(LedgerQuery.All));

        Assert.Contains(nameof(PostgresLedgerStore.MigrateAsync), error.Message, StringComparison.Ordinal);
    }
}
