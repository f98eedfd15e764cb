using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Budgets;
using ModelMix.Keys;
using ModelMix.Stores;

namespace ModelMix.Tests.Keys;

/// <summary>
/// Written from the survivors of the fourth session's mutation run over keys (docs/testing.md): the cache's read of
/// the change version ahead of the bound (from exactly half of it), a confirmation that moves the bound on, the
/// constructor's checks, and a key's budget scope. The version reads are counted on a store whose version read
/// completes at once, so every refresh has finished when the call that started it returns: nothing here waits or races.
/// </summary>
public sealed class CachedKeyStoreConfirmationTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(1);

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-key-confirm-tests", Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 14, 12, 0, 0, TimeSpan.Zero));
    private SqliteKeyStore _store = null!;
    private VersionCountingStore _counted = null!;

    public async Task InitializeAsync()
    {
        _store = new SqliteKeyStore(Path.Combine(_folder, "ledger.db"), _time);
        await _store.MigrateAsync();
        _counted = new VersionCountingStore(_store);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task The_version_is_read_ahead_of_the_bound_from_exactly_half_of_it_and_each_read_moves_the_bound_on()
    {
        var created = await _store.CreateAsync("team-a");
        var cache = new CachedKeyStore(_counted, Bound, _time);

        Assert.NotNull(await cache.AuthenticateAsync(created.Key)); // t = 0: the first read
        Assert.Equal(1, _counted.VersionReads);

        _time.Advance(Bound / 2 - TimeSpan.FromTicks(1)); // just under half: answered from memory, nothing read
        Assert.NotNull(await cache.AuthenticateAsync(created.Key));
        Assert.Equal(1, _counted.VersionReads);

        _time.Advance(TimeSpan.FromTicks(1)); // t = 500 ms, exactly half: answered from memory, and a read ahead of the bound
        Assert.NotNull(await cache.AuthenticateAsync(created.Key));
        Assert.Equal(2, _counted.VersionReads);

        // t = 1400 ms: 1400 ms after the first read but 900 ms after the second, which found the same version and so
        // confirmed the records until 1500 ms. Past half of that: one more read ahead (confirming until 2400 ms)...
        _time.Advance(TimeSpan.FromMilliseconds(900));
        Assert.NotNull(await cache.AuthenticateAsync(created.Key));
        Assert.Equal(3, _counted.VersionReads);

        // ...so at the same instant the records are fresh: no read. (Had a read not moved the bound on, the records
        // would still date from t = 0 and every call from here on would read the version again.)
        Assert.NotNull(await cache.AuthenticateAsync(created.Key));
        Assert.NotNull(await cache.AuthenticateAsync(created.Key));
        Assert.Equal(3, _counted.VersionReads);
    }

    [Fact]
    public void A_negative_interval_or_unknown_id_count_is_refused()
    {
        Assert.Equal("recheckInterval", Assert.Throws<ArgumentOutOfRangeException>(() => new CachedKeyStore(_counted, TimeSpan.FromTicks(-1), _time)).ParamName);
        Assert.Equal("maxUnknownIds", Assert.Throws<ArgumentOutOfRangeException>(() => new CachedKeyStore(_counted, Bound, _time, maxUnknownIds: -1)).ParamName);
    }

    [Fact]
    public void A_store_that_cannot_be_cached_is_refused_naming_the_ones_that_can()
    {
        var error = Assert.Throws<ArgumentException>(() => new CachedKeyStore(new PlainStore(_store), Bound, _time));

        Assert.Equal("inner", error.ParamName);
        Assert.StartsWith("PlainStore cannot be cached: use a SqliteKeyStore or a PostgresKeyStore.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_keys_budget_scope_is_key_and_its_id()
    {
        var info = new ApiKeyInfo { Id = "abc123", Name = "team-a", CreatedAt = _time.GetUtcNow() };

        Assert.Equal("key:abc123", info.BudgetScope);
    }

    [Fact]
    public void An_invalid_key_name_is_refused_saying_what_a_name_may_hold()
    {
        var error = Assert.Throws<ApiKeyException>(() => ApiKeyRules.Validate("-team", null));

        Assert.Equal("Key name '-team' is invalid: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.", error.Message);
    }

    /// <summary>A real store whose change version reads are counted and answered at once (always version 1).</summary>
    private sealed class VersionCountingStore(SqliteKeyStore inner) : PlainStore(inner), IKeyCredentialStore
    {
        private int _versionReads;

        public int VersionReads => Volatile.Read(ref _versionReads);

        public Task<long> GetChangeVersionAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _versionReads);
            return Task.FromResult(1L);
        }

        public Task<StoredApiKey?> FindStoredAsync(string id, CancellationToken cancellationToken) =>
            ((IKeyCredentialStore)Inner).FindStoredAsync(id, cancellationToken);
    }

    /// <summary>An <see cref="IKeyStore"/> with no credential reads (not disposing the store it wraps).</summary>
    private class PlainStore(IKeyStore inner) : IKeyStore
    {
        protected IKeyStore Inner => inner;

        public string Location => inner.Location;

        public Task MigrateAsync(CancellationToken cancellationToken = default) => inner.MigrateAsync(cancellationToken);

        public Task<CreatedApiKey> CreateAsync(string name, IReadOnlyList<BudgetCap>? budgets = null, bool isAdmin = false, CancellationToken cancellationToken = default) =>
            inner.CreateAsync(name, budgets, isAdmin, cancellationToken);

        public Task<IReadOnlyList<ApiKeyInfo>> ListAsync(bool includeRevoked = true, CancellationToken cancellationToken = default) => inner.ListAsync(includeRevoked, cancellationToken);

        public Task<ApiKeyInfo?> FindAsync(string nameOrId, CancellationToken cancellationToken = default) => inner.FindAsync(nameOrId, cancellationToken);

        public Task<ApiKeyInfo> RevokeAsync(string nameOrId, CancellationToken cancellationToken = default) => inner.RevokeAsync(nameOrId, cancellationToken);

        public Task<bool> HasActiveKeysAsync(CancellationToken cancellationToken = default) => inner.HasActiveKeysAsync(cancellationToken);

        public Task<ApiKeyInfo?> AuthenticateAsync(string? presented, CancellationToken cancellationToken = default) => inner.AuthenticateAsync(presented, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
