using ModelMix.Keys;
using ModelMix.Postgres;
using ModelMix.Tests.Keys;
using Npgsql;

namespace ModelMix.Tests.Postgres;

/// <summary>The key store contract on a real PostgreSQL server, plus that only a salted hash is stored.</summary>
public sealed class PostgresKeyStoreTests : KeyStoreContractTests
{
    private readonly PostgresTestDatabase _db = new();

    protected override Task CreateDatabaseAsync() => _db.CreateAsync();

    protected override Task DeleteDatabaseAsync() => PostgresTestDatabase.DeleteAsync();

    protected override IKeyStore NewKeyStore() => new PostgresKeyStore(_db.ConnectionString, Time);

    [Fact]
    public async Task The_key_is_stored_only_as_a_salted_hash_and_another_replica_sees_it_at_once()
    {
        var created = await Store.CreateAsync("team-a");
        await using var replica = new PostgresKeyStore(_db.ConnectionString, Time);
        Assert.Equal(created.Info.Id, (await replica.AuthenticateAsync(created.Key))!.Id);

        await using (var connection = new NpgsqlConnection(_db.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT id, name, encode(salt, 'hex'), encode(hash, 'hex') FROM api_keys;", connection);
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            for (var i = 0; i < reader.FieldCount; i++)
            {
                Assert.DoesNotContain(created.Key[(created.Key.LastIndexOf('_') + 1)..], reader.GetString(i), StringComparison.Ordinal);
            }

            Assert.Equal(32, reader.GetString(2).Length);
            Assert.Equal(64, reader.GetString(3).Length);
        }

        await replica.RevokeAsync("team-a");
        Assert.Null(await Store.AuthenticateAsync(created.Key));
    }
}
