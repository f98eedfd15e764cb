using Microsoft.Data.Sqlite;
using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

/// <summary>The ledger contract on SQLite, plus what is particular to the SQLite file.</summary>
public sealed class SqliteLedgerStoreTests : LedgerStoreContractTests, IDisposable
{
    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    protected override async Task<ILedgerStore> OpenAsync()
    {
        var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        return store;
    }

    [Fact]
    public async Task Costs_are_stored_as_exact_text_not_floating_point()
    {
        await using (var store = await OpenAsync())
        {
            await store.WriteBatchAsync([LedgerRecords.Simple(1, inputCost: 0.0262845m)]);
        }

        using var connection = _db.OpenIndependentConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT typeof(cost_input), cost_input, typeof(input_tokens) FROM ledger_records;";
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal("text", reader.GetString(0));
        Assert.Equal("0.0262845", reader.GetString(1));
        Assert.Equal("integer", reader.GetString(2));
    }

    [Fact]
    public async Task Migrations_run_once_and_reopening_is_idempotent()
    {
        await using (var store = await OpenAsync())
        {
            await store.MigrateAsync();
            await store.WriteBatchAsync(LedgerRecords.Many(3));
        }

        await using (var again = await OpenAsync())
        {
            Assert.Equal(3, await again.CountAsync(LedgerQuery.All));
        }

        using var connection = _db.OpenIndependentConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version;";
        Assert.Equal((long)SqliteLedgerStore.SchemaVersion, (long)command.ExecuteScalar()!);
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string)command.ExecuteScalar()!);
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger_records' AND name LIKE 'ix_%';";
        Assert.Equal(5L, (long)command.ExecuteScalar()!); // timestamp, request, key, session; escalations (partial, the rollups' step)
    }

    [Fact]
    public async Task A_database_with_a_newer_schema_is_refused_with_a_clear_message()
    {
        using (var connection = _db.OpenIndependentConnection())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "CREATE TABLE future (x INTEGER); PRAGMA user_version = 99;";
            command.ExecuteNonQuery();
        }

        await using var store = new SqliteLedgerStore(_db.FilePath);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.MigrateAsync());

        Assert.Contains("schema version 99", error.Message, StringComparison.Ordinal);
        Assert.Contains("newer", error.Message, StringComparison.Ordinal);
        Assert.Contains(_db.FilePath, error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteBatchAsync(LedgerRecords.Many(1)));
    }

    [Fact]
    public async Task Using_the_store_before_migrating_is_a_clear_error()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.CountAsync(LedgerQuery.All));

        Assert.Contains(nameof(SqliteLedgerStore.MigrateAsync), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_path_is_modelmix_db_in_the_working_directory()
    {
        Assert.Equal("./modelmix.db", SqliteLedgerStore.DefaultPath);
    }
}
