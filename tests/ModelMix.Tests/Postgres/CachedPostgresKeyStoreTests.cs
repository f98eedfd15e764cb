using ModelMix.Keys;
using ModelMix.Postgres;
using ModelMix.Tests.Keys;
using Npgsql;

namespace ModelMix.Tests.Postgres;

/// <summary><see cref="CachedKeyStore"/> over the PostgreSQL key store, on a real server; the other store stands for another replica.</summary>
public sealed class CachedPostgresKeyStoreTests : CachedKeyStoreContractTests
{
    private readonly PostgresTestDatabase _db = new();

    protected override string AdminTrue => "true";

    protected override Task CreateDatabaseAsync() => _db.CreateAsync();

    protected override Task DeleteDatabaseAsync() => PostgresTestDatabase.DeleteAsync();

    protected override IKeyStore NewStore() => new PostgresKeyStore(_db.ConnectionString, Time);

    protected override async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_db.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>The key store contract kept through <see cref="CachedKeyStore"/> (PostgreSQL): local changes take effect at once.</summary>
public sealed class CachedPostgresKeyStoreContractTests : KeyStoreContractTests
{
    private readonly PostgresTestDatabase _db = new();

    protected override Task CreateDatabaseAsync() => _db.CreateAsync();

    protected override Task DeleteDatabaseAsync() => PostgresTestDatabase.DeleteAsync();

    protected override IKeyStore NewKeyStore() => new CachedKeyStore(new PostgresKeyStore(_db.ConnectionString, Time), CachedKeyStore.DefaultRecheckInterval, Time);
}
