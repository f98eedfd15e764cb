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
    public void A_wrong_length_hash_is_unequal_not_an_exception()
    {
        var salt = ApiKeyHasher.NewSalt();
        Assert.False(ApiKeyHasher.Verify(salt, new byte[5], "x"));
        Assert.False(ApiKeyHasher.Verify(salt, ReadOnlySpan<byte>.Empty, "x"));
    }

    /// <summary>
    /// "Constant time" is pinned by what <see cref="ApiKeyHasher.Verify"/> compiles to, not by timing it: a timing test
    /// on a shared 2-core machine can neither see a one-byte early exit (nanoseconds) reliably nor fail only when one
    /// exists. The constant-time comparison is the runtime's <see cref="CryptographicOperations.FixedTimeEquals"/>; what
    /// this code owes is to compare through it and through nothing that stops at the first differing byte. So: the IL
    /// calls FixedTimeEquals, calls nothing outside a short allow-list (a SequenceEqual, Equals or hand-written compare
    /// added beside or instead of it fails here, naming the call), and has no loop of its own.
    /// </summary>
    [Fact]
    public void Verify_compares_through_FixedTimeEquals_and_nothing_that_exits_early()
    {
        var il = MethodIl.Of(typeof(ApiKeyHasher).GetMethod(nameof(ApiKeyHasher.Verify))!);

        Assert.Contains(il.Calls, call => call.DeclaringType == typeof(CryptographicOperations) && call.Name == nameof(CryptographicOperations.FixedTimeEquals));
        var allowed = new HashSet<(Type?, string)>
        {
            (typeof(ArgumentNullException), nameof(ArgumentNullException.ThrowIfNull)),
            (typeof(System.Text.Encoding), "get_UTF8"),
            (typeof(System.Text.Encoding), nameof(System.Text.Encoding.GetBytes)),
            (typeof(HMACSHA256), nameof(HMACSHA256.HashData)),
            (typeof(CryptographicOperations), nameof(CryptographicOperations.FixedTimeEquals)),
            (typeof(Span<byte>), ".ctor"), // stackalloc into a span
            (typeof(Span<byte>), nameof(Span<>.Slice)), // actual[..written]
            (typeof(Span<byte>), "op_Implicit"), // Span -> ReadOnlySpan
            (typeof(ReadOnlySpan<byte>), "op_Implicit"), // byte[] -> ReadOnlySpan
        };
        Assert.All(il.Calls, call => Assert.True(allowed.Contains((call.DeclaringType, call.Name)), $"Verify calls {call.DeclaringType}.{call.Name}, which is not on the allow-list of calls that cannot compare the hash early-exit."));
        Assert.False(il.BranchesBackward, "Verify has a loop of its own: a byte loop over the hash would exit at the first difference.");
    }

    /// <summary>
    /// Every path that accepts a key — each store's <c>AuthenticateAsync</c> and <see cref="CachedKeyStore"/>'s
    /// in-memory check — goes through <see cref="ApiKeyVerification.Check"/>, which compares through
    /// <see cref="ApiKeyHasher.Verify"/> (pinned above) on the matched record, and on a dummy record for an unknown id.
    /// </summary>
    [Fact]
    public void The_one_check_of_a_secret_compares_through_the_constant_time_Verify()
    {
        var il = MethodIl.Of(typeof(ApiKeyVerification).GetMethod(nameof(ApiKeyVerification.Check))!);

        Assert.Equal(2, il.Calls.Count(call => call.DeclaringType == typeof(ApiKeyHasher) && call.Name == nameof(ApiKeyHasher.Verify)));
        Assert.DoesNotContain(il.Calls, call => call.DeclaringType == typeof(CryptographicOperations) || call.Name is "SequenceEqual" or "Equals" or "op_Equality");
        Assert.False(il.BranchesBackward);
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
