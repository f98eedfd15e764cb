using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Budgets;
using ModelMix.Keys;

namespace ModelMix.Tests.Keys;

public sealed class ApiKeyTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-key-tests", Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 14, 12, 0, 0, TimeSpan.Zero));
    private SqliteKeyStore _store = null!;

    private string DbPath => Path.Combine(_folder, "ledger.db");

    public async Task InitializeAsync()
    {
        _store = new SqliteKeyStore(DbPath, _time);
        await _store.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

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
    public async Task Created_key_authenticates_until_revoked()
    {
        var created = await _store.CreateAsync("team-a", [BudgetCap.Parse("50/day"), BudgetCap.Parse("500/month")], isAdmin: true);

        var info = await _store.AuthenticateAsync(created.Key);

        Assert.NotNull(info);
        Assert.Equal("team-a", info.Name);
        Assert.Equal(created.Info.Id, info.Id);
        Assert.True(info.IsAdmin);
        Assert.Equal(_time.GetUtcNow(), info.CreatedAt);
        Assert.Equal([new BudgetCap(BudgetWindow.Day, 50m), new BudgetCap(BudgetWindow.Month, 500m)], info.Budgets);
        Assert.True(await _store.HasActiveKeysAsync());

        _time.Advance(TimeSpan.FromHours(1));
        var revoked = await _store.RevokeAsync("team-a");

        Assert.Equal(_time.GetUtcNow(), revoked.RevokedAt);
        Assert.Null(await _store.AuthenticateAsync(created.Key));
        Assert.False(await _store.HasActiveKeysAsync());
    }

    [Fact]
    public async Task Wrong_secret_for_a_known_id_does_not_authenticate()
    {
        var created = await _store.CreateAsync("team-a");
        var tampered = created.Key[..^1] + (created.Key[^1] == 'a' ? 'b' : 'a');

        Assert.Null(await _store.AuthenticateAsync(tampered));
        Assert.Null(await _store.AuthenticateAsync("mmx-" + new string('Z', 44)));
        Assert.Null(await _store.AuthenticateAsync(null));
    }

    [Fact]
    public async Task The_key_is_stored_only_as_a_salted_hash()
    {
        var created = await _store.CreateAsync("team-a");
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        _store = new SqliteKeyStore(DbPath, _time);

        var secret = created.Key[(4 + ApiKeySecret.IdLength)..];
        foreach (var file in Directory.GetFiles(_folder))
        {
            var text = System.Text.Encoding.Latin1.GetString(await File.ReadAllBytesAsync(file));
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(created.Key, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Names_are_unique_among_active_keys_and_reusable_after_revocation()
    {
        var first = await _store.CreateAsync("team-a");

        var duplicate = await Assert.ThrowsAsync<ApiKeyException>(() => _store.CreateAsync("team-a"));
        Assert.Contains("already exists", duplicate.Message, StringComparison.Ordinal);

        await _store.RevokeAsync(first.Info.Id);
        _time.Advance(TimeSpan.FromSeconds(1)); // keys list oldest first
        var second = await _store.CreateAsync("team-a");

        var all = await _store.ListAsync();
        Assert.Equal([first.Info.Id, second.Info.Id], all.Select(key => key.Id));
        Assert.Equal(second.Info.Id, (await _store.FindAsync("team-a"))!.Id);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("-leading-dash")]
    public async Task Bad_names_are_refused(string name)
    {
        await Assert.ThrowsAsync<ApiKeyException>(() => _store.CreateAsync(name));
    }

    [Fact]
    public async Task Revoking_an_unknown_key_says_so()
    {
        var error = await Assert.ThrowsAsync<ApiKeyException>(() => _store.RevokeAsync("nobody"));
        Assert.Contains("nobody", error.Message, StringComparison.Ordinal);
    }
}
