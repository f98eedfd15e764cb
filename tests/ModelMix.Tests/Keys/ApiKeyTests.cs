using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Keys;

namespace ModelMix.Tests.Keys;

/// <summary>The key store contract on SQLite, the key format and hashing, and what is particular to the SQLite file.</summary>
public sealed class ApiKeyTests : KeyStoreContractTests
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-key-tests", Guid.NewGuid().ToString("N"));

    private string DbPath => Path.Combine(_folder, "ledger.db");

    protected override Task CreateDatabaseAsync() => Task.CompletedTask;

    protected override Task DeleteDatabaseAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
        return Task.CompletedTask;
    }

    protected override IKeyStore NewKeyStore() => new SqliteKeyStore(DbPath, Time);

    [Fact]
    public void Generated_keys_are_mmx_plus_44_base62_characters_and_unique()
    {
        var keys = Enumerable.Range(0, 1000).Select(_ => ApiKeySecret.Generate()).ToList();

        Assert.All(keys, key =>
        {
            Assert.Matches("^mmx-[0-9A-Za-z]{44}$", key.Key);
            Assert.Equal("mmx-" + key.Id + key.Secret, key.Key);
            Assert.True(ApiKeySecret.TryParse(key.Key, out var id, out var secret));
            Assert.Equal((key.Id, key.Secret), (id, secret));
        });
        Assert.Equal(keys.Count, keys.Select(key => key.Key).Distinct().Count());
    }

    [Theory]
    [InlineData("")]
    [InlineData("sk-ant-api03-abc")]
    [InlineData("mmx-tooshort")]
    [InlineData("mmx-AAAAAAAAAAAA!BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")]
    [InlineData("MMX-AAAAAAAAAAAABBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")]
    public void Malformed_keys_do_not_parse(string key)
    {
        Assert.False(ApiKeySecret.TryParse(key, out _, out _));
    }

    [Fact]
    public void Hash_verifies_the_secret_only_with_its_own_salt()
    {
        var salt = ApiKeyHasher.NewSalt();
        var otherSalt = ApiKeyHasher.NewSalt();
        var hash = ApiKeyHasher.Hash(salt, "secret-one");

        Assert.Equal(16, salt.Length);
        Assert.Equal(32, hash.Length);
        Assert.True(ApiKeyHasher.Verify(salt, hash, "secret-one"));
        Assert.False(ApiKeyHasher.Verify(salt, hash, "secret-onf"));
        Assert.False(ApiKeyHasher.Verify(otherSalt, hash, "secret-one"));
        Assert.NotEqual(hash, ApiKeyHasher.Hash(otherSalt, "secret-one"));
        Assert.Equal(HMACSHA256.HashData(salt, "secret-one"u8), hash);
    }

    [Fact]
    public void Verify_compares_in_constant_time()
    {
        // The comparison is CryptographicOperations.FixedTimeEquals; a wrong-length hash is simply unequal, never an exception.
        var salt = ApiKeyHasher.NewSalt();
        Assert.False(ApiKeyHasher.Verify(salt, new byte[5], "x"));
        Assert.False(ApiKeyHasher.Verify(salt, ReadOnlySpan<byte>.Empty, "x"));
    }

    [Fact]
    public async Task The_key_is_stored_only_as_a_salted_hash()
    {
        var created = await Store.CreateAsync("team-a");
        await Store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Store = new SqliteKeyStore(DbPath, Time);

        var secret = created.Key[(4 + ApiKeySecret.IdLength)..];
        foreach (var file in Directory.GetFiles(_folder))
        {
            var text = System.Text.Encoding.Latin1.GetString(await File.ReadAllBytesAsync(file));
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(created.Key, text, StringComparison.Ordinal);
        }
    }
}
