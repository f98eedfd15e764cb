using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Budgets;
using ModelMix.Keys;
using ModelMix.Stores;

namespace ModelMix.Tests.Keys;

/// <summary>
/// <see cref="CachedKeyStore"/> over a real store (SQLite here, PostgreSQL in a subclass), on a fake clock so the bound
/// is checked exactly and without sleeping: a change made elsewhere (another store instance standing for another replica
/// or the CLI, or SQL by hand) is honoured by the first request once <see cref="CachedKeyStore.RecheckInterval"/> has
/// passed since the last confirmation; store reads are counted to show the cache answers without them.
/// </summary>
public abstract class CachedKeyStoreContractTests : IAsyncLifetime
{
    protected static readonly TimeSpan Bound = TimeSpan.FromSeconds(1);

    private CountingKeyStore _counted = null!;

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 3, 14, 12, 0, 0, TimeSpan.Zero));

    /// <summary>The cache under test (over <see cref="_counted"/>, over a real store).</summary>
    private protected CachedKeyStore Cache { get; private set; } = null!;

    /// <summary>Another store on the same database: another replica, or the CLI.</summary>
    protected IKeyStore Elsewhere { get; private set; } = null!;

    protected abstract Task CreateDatabaseAsync();

    protected abstract Task DeleteDatabaseAsync();

    protected abstract IKeyStore NewStore();

    /// <summary>Runs SQL on the database directly, as an operator would by hand.</summary>
    protected abstract Task ExecuteAsync(string sql);

    public async Task InitializeAsync()
    {
        await CreateDatabaseAsync();
        _counted = new CountingKeyStore(NewStore());
        Cache = new CachedKeyStore(_counted, Bound, Time, maxUnknownIds: 3);
        Elsewhere = NewStore();
        await Cache.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await Cache.DisposeAsync();
        await Elsewhere.DisposeAsync();
        await DeleteDatabaseAsync();
    }

    [Fact]
    public async Task A_cached_key_is_verified_in_memory_without_store_reads_until_the_bound()
    {
        var created = await Elsewhere.CreateAsync("team-a", [BudgetCap.Parse("50/day")]);

        Assert.Equal(created.Info.Id, (await Cache.AuthenticateAsync(created.Key))?.Id);
        var (versions, finds) = (_counted.VersionReads, _counted.Finds);
        Assert.Equal((1, 1), (versions, finds));

        for (var i = 0; i < 100; i++)
        {
            Assert.NotNull(await Cache.AuthenticateAsync(created.Key));
            Time.Advance(TimeSpan.FromMilliseconds(4)); // 400 ms in all: under half the bound, so no read even ahead of it
        }

        Assert.Equal((1, 1), (_counted.VersionReads, _counted.Finds));

        // Past the bound with nothing changed: one version read, and the record is kept (no new find).
        Time.Advance(Bound);
        Assert.NotNull(await Cache.AuthenticateAsync(created.Key));
        Assert.Equal((2, 1), (_counted.VersionReads, _counted.Finds));
    }

    [Fact]
    public async Task A_wrong_secret_for_a_cached_key_is_refused()
    {
        var created = await Elsewhere.CreateAsync("team-a");
        Assert.NotNull(await Cache.AuthenticateAsync(created.Key));

        var wrong = created.Key[..^1] + (created.Key[^1] == 'A' ? 'B' : 'A');
        Assert.Null(await Cache.AuthenticateAsync(wrong));
        Assert.Null(await Cache.AuthenticateAsync(created.Key[..^1]));
        Assert.NotNull(await Cache.AuthenticateAsync(created.Key));
        Assert.Equal(1, _counted.Finds);
    }

    [Fact]
    public async Task A_revocation_elsewhere_is_honoured_once_the_bound_has_passed()
    {
        var created = await Elsewhere.CreateAsync("team-a");
        Assert.NotNull(await Cache.AuthenticateAsync(created.Key));

        await Elsewhere.RevokeAsync("team-a");
        // Within the bound the cache may still accept the key: that staleness is what the bound documents.
        Time.Advance(Bound - TimeSpan.FromTicks(1));
        Assert.NotNull(await Cache.AuthenticateAsync(created.Key));

        Time.Advance(TimeSpan.FromTicks(1));
        Assert.Null(await Cache.AuthenticateAsync(created.Key));
    }

    [Fact]
    public async Task A_revocation_by_hand_in_SQL_is_honoured_too()
    {
        var created = await Elsewhere.CreateAsync("team-a");
        Assert.NotNull(await Cache.AuthenticateAsync(created.Key));

        await ExecuteAsync($"UPDATE api_keys SET revoked_at = 1 WHERE id = '{created.Info.Id}';");
        Time.Advance(Bound);

        Assert.Null(await Cache.AuthenticateAsync(created.Key));
    }

    [Fact]
    public async Task Cap_and_admin_changes_elsewhere_are_honoured_once_the_bound_has_passed()
    {
        var created = await Elsewhere.CreateAsync("team-a", [BudgetCap.Parse("50/day")]);
        var before = await Cache.AuthenticateAsync(created.Key);
        Assert.Equal([new BudgetCap(BudgetWindow.Day, 50m)], before!.Budgets);
        Assert.False(before.IsAdmin);

        // 20 USD = 20,000,000,000 nano-dollars.
        await ExecuteAsync($"UPDATE api_key_budgets SET cap_nanos = 20000000000 WHERE key_id = '{created.Info.Id}';");
        await ExecuteAsync($"INSERT INTO api_key_budgets (key_id, period, cap_nanos) VALUES ('{created.Info.Id}', 'month', 300000000000);");
        Time.Advance(Bound);
        var capped = await Cache.AuthenticateAsync(created.Key);
        Assert.Equal([new BudgetCap(BudgetWindow.Day, 20m), new BudgetCap(BudgetWindow.Month, 300m)], capped!.Budgets);

        await ExecuteAsync($"UPDATE api_keys SET is_admin = {AdminTrue}, name = 'team-b' WHERE id = '{created.Info.Id}';");
        Time.Advance(Bound);
        var renamed = await Cache.AuthenticateAsync(created.Key);
        Assert.True(renamed!.IsAdmin);
        Assert.Equal("team-b", renamed.Name);

        await ExecuteAsync($"DELETE FROM api_key_budgets WHERE key_id = '{created.Info.Id}';");
        Time.Advance(Bound);
        Assert.Empty((await Cache.AuthenticateAsync(created.Key))!.Budgets);
    }

    /// <summary>The literal of "true" for <c>is_admin</c> in this database.</summary>
    protected abstract string AdminTrue { get; }

    [Fact]
    public async Task A_key_created_elsewhere_authenticates_at_once()
    {
        await Elsewhere.CreateAsync("team-a");
        var other = await NewStore().CreateAsync("team-b"); // after the cache holds a version
        Assert.NotNull(await Cache.AuthenticateAsync(other.Key));
    }

    [Fact]
    public async Task Changes_through_the_cache_itself_take_effect_at_once()
    {
        var created = await Cache.CreateAsync("team-a");
        Assert.NotNull(await Cache.AuthenticateAsync(created.Key));

        await Cache.RevokeAsync("team-a");

        Assert.Null(await Cache.AuthenticateAsync(created.Key));
    }

    [Fact]
    public async Task Unknown_ids_are_remembered_only_up_to_the_limit()
    {
        var created = await Elsewhere.CreateAsync("team-a");
        Assert.NotNull(await Cache.AuthenticateAsync(created.Key));
        var unknown = Enumerable.Range(0, 50).Select(_ => ApiKeySecret.Generate().Key).ToList();

        foreach (var key in unknown)
        {
            Assert.Null(await Cache.AuthenticateAsync(key));
        }

        Assert.Equal(1 + 3, Cache.Count); // the real key and at most maxUnknownIds (3) unknown ids
        Assert.Equal(1 + 50, _counted.Finds);

        // The first three are answered from memory; the other 47 are read again (what an attacker spraying ids costs).
        foreach (var key in unknown)
        {
            Assert.Null(await Cache.AuthenticateAsync(key));
        }

        Assert.Equal(1 + 50 + 47, _counted.Finds);
        Assert.Equal(1 + 3, Cache.Count);
    }

    [Fact]
    public async Task When_the_version_cannot_be_read_past_the_bound_the_key_is_not_accepted_on_stale_records()
    {
        var created = await Elsewhere.CreateAsync("team-a");
        Assert.NotNull(await Cache.AuthenticateAsync(created.Key));

        await ExecuteAsync("ALTER TABLE api_key_version RENAME TO api_key_version_gone;");
        Time.Advance(Bound);

        await Assert.ThrowsAnyAsync<Exception>(() => Cache.AuthenticateAsync(created.Key));
        await ExecuteAsync("ALTER TABLE api_key_version_gone RENAME TO api_key_version;");
        Assert.NotNull(await Cache.AuthenticateAsync(created.Key)); // and it recovers with the store
    }

    [Fact]
    public async Task Every_change_to_the_key_tables_bumps_the_version()
    {
        var store = (IKeyCredentialStore)Elsewhere;
        var versions = new List<long> { await store.GetChangeVersionAsync(default) };
        var created = await Elsewhere.CreateAsync("team-a", [BudgetCap.Parse("5/day")]);
        versions.Add(await store.GetChangeVersionAsync(default));
        await ExecuteAsync($"UPDATE api_key_budgets SET cap_nanos = 1 WHERE key_id = '{created.Info.Id}';");
        versions.Add(await store.GetChangeVersionAsync(default));
        await ExecuteAsync($"UPDATE api_keys SET name = 'renamed' WHERE id = '{created.Info.Id}';");
        versions.Add(await store.GetChangeVersionAsync(default));
        await Elsewhere.RevokeAsync(created.Info.Id);
        versions.Add(await store.GetChangeVersionAsync(default));
        await ExecuteAsync($"DELETE FROM api_key_budgets WHERE key_id = '{created.Info.Id}';");
        versions.Add(await store.GetChangeVersionAsync(default));

        for (var i = 1; i < versions.Count; i++)
        {
            Assert.True(versions[i] > versions[i - 1], $"change {i} did not bump the version: {string.Join(", ", versions)}");
        }
    }

    [Fact]
    public async Task A_zero_interval_turns_the_cache_off()
    {
        var created = await Elsewhere.CreateAsync("team-a");
        var counted = new CountingKeyStore(NewStore());
        await using var uncached = new CachedKeyStore(counted, TimeSpan.Zero, Time);

        Assert.NotNull(await uncached.AuthenticateAsync(created.Key));
        await Elsewhere.RevokeAsync("team-a");
        Assert.Null(await uncached.AuthenticateAsync(created.Key));
        Assert.Equal(0, counted.VersionReads);
    }

    /// <summary>A real store with its reads for the cache counted.</summary>
    private sealed class CountingKeyStore(IKeyStore inner) : IKeyStore, IKeyCredentialStore
    {
        private int _versionReads;
        private int _finds;

        public int VersionReads => Volatile.Read(ref _versionReads);

        public int Finds => Volatile.Read(ref _finds);

        public string Location => inner.Location;

        public Task MigrateAsync(CancellationToken cancellationToken = default) => inner.MigrateAsync(cancellationToken);

        public Task<CreatedApiKey> CreateAsync(string name, IReadOnlyList<BudgetCap>? budgets = null, bool isAdmin = false, CancellationToken cancellationToken = default) =>
            inner.CreateAsync(name, budgets, isAdmin, cancellationToken);

        public Task<IReadOnlyList<ApiKeyInfo>> ListAsync(bool includeRevoked = true, CancellationToken cancellationToken = default) => inner.ListAsync(includeRevoked, cancellationToken);

        public Task<ApiKeyInfo?> FindAsync(string nameOrId, CancellationToken cancellationToken = default) => inner.FindAsync(nameOrId, cancellationToken);

        public Task<ApiKeyInfo> RevokeAsync(string nameOrId, CancellationToken cancellationToken = default) => inner.RevokeAsync(nameOrId, cancellationToken);

        public Task<bool> HasActiveKeysAsync(CancellationToken cancellationToken = default) => inner.HasActiveKeysAsync(cancellationToken);

        public Task<ApiKeyInfo?> AuthenticateAsync(string? presented, CancellationToken cancellationToken = default) => inner.AuthenticateAsync(presented, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();

        public Task<long> GetChangeVersionAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _versionReads);
            return ((IKeyCredentialStore)inner).GetChangeVersionAsync(cancellationToken);
        }

        public Task<StoredApiKey?> FindStoredAsync(string id, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _finds);
            return ((IKeyCredentialStore)inner).FindStoredAsync(id, cancellationToken);
        }
    }
}

/// <summary><see cref="CachedKeyStore"/> over the SQLite key store.</summary>
public sealed class CachedSqliteKeyStoreTests : CachedKeyStoreContractTests
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-key-cache-tests", Guid.NewGuid().ToString("N"));

    private string DbPath => Path.Combine(_folder, "ledger.db");

    protected override string AdminTrue => "1";

    protected override Task CreateDatabaseAsync() => Task.CompletedTask;

    protected override Task DeleteDatabaseAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
        return Task.CompletedTask;
    }

    protected override IKeyStore NewStore() => new SqliteKeyStore(DbPath, Time);

    protected override async Task ExecuteAsync(string sql)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DbPath, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>The key store contract kept through <see cref="CachedKeyStore"/> (SQLite): local changes take effect at once.</summary>
public sealed class CachedSqliteKeyStoreContractTests : KeyStoreContractTests
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-key-cache-tests", Guid.NewGuid().ToString("N"));

    protected override Task CreateDatabaseAsync() => Task.CompletedTask;

    protected override Task DeleteDatabaseAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
        return Task.CompletedTask;
    }

    protected override IKeyStore NewKeyStore() => new CachedKeyStore(new SqliteKeyStore(Path.Combine(_folder, "ledger.db"), Time), CachedKeyStore.DefaultRecheckInterval, Time);
}
