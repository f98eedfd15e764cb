using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Caching;
using ModelMix.Postgres;
using ModelMix.Tests.Caching;
using ModelMix.Tests.Ledger;
using Npgsql;

namespace ModelMix.Tests.Postgres;

/// <summary>
/// The warm-store contract on a real PostgreSQL server, written through one store and read through another over the
/// same database (two replicas), plus what only the shared store does: off-path writes, the local read cache and its
/// staleness bound, the periodic prune, and degrading to local state when the database is unreachable.
/// </summary>
public sealed class PostgresPromptCacheWarmStoreTests : PromptCacheWarmStoreContractTests
{
    private readonly PostgresTestDatabase _db = new();
    private readonly List<PostgresPromptCacheWarmStore> _stores = [];

    private PostgresPromptCacheWarmStore NewStore(PostgresPromptCacheWarmStoreOptions? options = null, TimeProvider? time = null, ILogger<PostgresPromptCacheWarmStore>? logger = null, string? connectionString = null)
    {
        var store = new PostgresPromptCacheWarmStore(connectionString ?? _db.ConnectionString, options ?? new PostgresPromptCacheWarmStoreOptions { LocalCacheTtl = TimeSpan.Zero }, time ?? Time, logger);
        _stores.Add(store);
        return store;
    }

    protected override async Task<(IPromptCacheWarmStore Store, IPromptCacheWarmStore Reader)> CreateAsync()
    {
        await _db.CreateAsync();
        var writer = NewStore();
        await writer.MigrateAsync();
        return (writer, NewStore());
    }

    protected override Task CommitAsync() => ((PostgresPromptCacheWarmStore)Store).FlushAsync();

    protected override Task<int> PruneAsync(DateTimeOffset now) => ((PostgresPromptCacheWarmStore)Store).PruneAsync(now);

    protected override async Task ReleaseAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        await PostgresTestDatabase.DeleteAsync();
    }

    private async Task<long> RowsAsync()
    {
        await using var connection = new NpgsqlConnection(_db.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM prompt_cache_warm;", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task A_write_returns_before_the_database_has_it_and_the_writer_upserts_it_soon_after()
    {
        var store = (PostgresPromptCacheWarmStore)Store;
        var warmth = new PromptCacheWarmth("claude-sonnet-4-6", 4_000, T0 + TimeSpan.FromMinutes(5));

        await store.SetAsync("s1", warmth);
        Assert.Equal(warmth, await store.GetAsync("s1", T0)); // the writer's own replica sees it at once

        await store.FlushAsync();
        Assert.Equal(1, await RowsAsync());
        Assert.Equal(warmth, await Reader.GetAsync("s1", T0));
    }

    [Fact]
    public async Task A_replica_reuses_what_it_read_for_the_local_ttl_then_sees_the_other_replicas_write()
    {
        var cached = NewStore(new PostgresPromptCacheWarmStoreOptions { LocalCacheTtl = TimeSpan.FromSeconds(1) });
        Assert.Null(await cached.GetAsync("s1", T0)); // read from the database: no warmth, remembered for 1 s

        var warmth = new PromptCacheWarmth("claude-sonnet-4-6", 4_000, T0 + TimeSpan.FromMinutes(5));
        await Store.SetAsync("s1", warmth);
        await CommitAsync();

        Assert.Null(await cached.GetAsync("s1", T0 + TimeSpan.FromMilliseconds(900))); // stale within the local TTL
        Assert.Equal(warmth, await cached.GetAsync("s1", T0 + TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Expired_rows_are_pruned_periodically_so_the_table_keeps_only_live_sessions()
    {
        var time = new FakeTimeProvider(T0);
        var store = NewStore(new PostgresPromptCacheWarmStoreOptions { LocalCacheTtl = TimeSpan.Zero, PruneInterval = TimeSpan.FromMinutes(1) }, time);
        await store.SetAsync("short", new PromptCacheWarmth("claude-sonnet-4-5", 2_000, T0 + TimeSpan.FromSeconds(30)));
        await store.SetAsync("long", new PromptCacheWarmth("claude-sonnet-4-5", 2_000, T0 + TimeSpan.FromMinutes(10)));
        await store.FlushAsync();
        Assert.Equal(2, await RowsAsync());

        time.Advance(TimeSpan.FromMinutes(1));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (await RowsAsync() != 1 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(1, await RowsAsync());
        Assert.NotNull(await Reader.GetAsync("long", T0 + TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public async Task An_unreachable_database_degrades_to_local_state_without_throwing_and_is_logged_once()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        } // closed again: nothing listens there

        var logger = new ListLogger<PostgresPromptCacheWarmStore>();
        var down = NewStore(
            new PostgresPromptCacheWarmStoreOptions { LocalCacheTtl = TimeSpan.Zero, RetryAfterFailure = TimeSpan.Zero },
            logger: logger,
            connectionString: $"Host=127.0.0.1;Port={port};Database=nowhere;Username=postgres;Timeout=5");
        var warmth = new PromptCacheWarmth("claude-sonnet-4-6", 4_000, T0 + TimeSpan.FromMinutes(5));

        Assert.Null(await down.GetAsync("unknown", T0));
        await down.SetAsync("s1", warmth);
        await down.FlushAsync();
        Assert.Equal(warmth, await down.GetAsync("s1", T0 + TimeSpan.FromSeconds(1)));
        Assert.Null(await down.GetAsync("s1", T0 + TimeSpan.FromMinutes(5))); // local warmth still expires
        Assert.Null(await down.GetAsync("unknown", T0));

        Assert.True(down.Degraded);
        var warning = Assert.Single(logger.Entries, entry => entry.Level == LogLevel.Warning);
        Assert.Contains("could not be reached", warning.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}/nowhere", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Neutral_options_given_to_the_store_location_reach_the_postgres_store_with_its_own_defaults_for_the_rest()
    {
        var location = ModelMix.Stores.StoreLocation.Parse(_db.ConnectionString);
        var options = new PromptCacheWarmStoreOptions { LocalCacheTtl = TimeSpan.Zero, ReadTimeout = TimeSpan.FromSeconds(3), RetryAfterFailure = TimeSpan.FromSeconds(4) };

        await using var made = (PostgresPromptCacheWarmStore)location.CreatePromptCacheWarmStore(Time, null, options);

        Assert.Equal(TimeSpan.Zero, made.Options.LocalCacheTtl);
        Assert.Equal(TimeSpan.FromSeconds(3), made.Options.ReadTimeout);
        Assert.Equal(TimeSpan.FromSeconds(4), made.Options.RetryAfterFailure);
        Assert.Equal(new PostgresPromptCacheWarmStoreOptions().PruneInterval, made.Options.PruneInterval);

        // What the TTL of zero does: the other replica's write is seen 100 ms later (the default 1 s would hide it).
        Assert.Null(await made.GetAsync("s1", T0));
        var warmth = new PromptCacheWarmth("claude-sonnet-4-6", 4_000, T0 + TimeSpan.FromMinutes(5));
        await Store.SetAsync("s1", warmth);
        await CommitAsync();
        Assert.Equal(warmth, await made.GetAsync("s1", T0 + TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public async Task Postgres_options_given_as_neutral_options_are_used_as_they_are_prune_interval_included()
    {
        var location = ModelMix.Stores.StoreLocation.Parse(_db.ConnectionString);
        var options = new PostgresPromptCacheWarmStoreOptions { LocalCacheTtl = TimeSpan.Zero, PruneInterval = TimeSpan.FromMinutes(7) };

        await using var made = (PostgresPromptCacheWarmStore)location.CreatePromptCacheWarmStore(Time, null, options);
        Assert.Same(options, made.Options);

#pragma warning disable CS0618 // the obsolete overload, kept for one release, behaves as before
        await using var old = (PostgresPromptCacheWarmStore)location.CreatePromptCacheWarmStore(Time, null, options);
        await using var oldBackend = (PostgresPromptCacheWarmStore)location.Backend.CreatePromptCacheWarmStore(location, Time, null, options);
#pragma warning restore CS0618
        Assert.Same(options, old.Options);
        Assert.Same(options, oldBackend.Options);
    }

    [Fact]
    public void Out_of_range_neutral_options_are_refused_by_the_postgres_store_naming_the_setting()
    {
        var location = ModelMix.Stores.StoreLocation.Parse(_db.ConnectionString);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => location.CreatePromptCacheWarmStore(Time, null, new PromptCacheWarmStoreOptions { ReadTimeout = TimeSpan.Zero }));

        Assert.Equal(nameof(PromptCacheWarmStoreOptions.ReadTimeout), error.ParamName);
    }

    [Fact]
    public async Task The_store_location_picks_the_shared_store_for_postgres_and_migrate_creates_its_table()
    {
        var location = ModelMix.Stores.StoreLocation.Parse(_db.ConnectionString);
        await using (var made = (PostgresPromptCacheWarmStore)location.CreatePromptCacheWarmStore(Time))
        {
            Assert.Equal(location.Display, made.Location);
        }

        Assert.IsType<InMemoryPromptCacheWarmStore>(ModelMix.Stores.StoreLocation.Parse(Path.Combine(Path.GetTempPath(), "unused.db")).CreatePromptCacheWarmStore());
        var fresh = await (await ModelMix.Tests.Shared.PostgresServer.GetAsync()).CreateDatabaseAsync();

        var done = await ModelMix.Stores.StoreLocation.Parse(fresh).MigrateAllAsync();

        Assert.Contains(PostgresPromptCacheWarmStore.Component, done);
        await using var connection = new NpgsqlConnection(fresh);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT version FROM modelmix_schema_versions WHERE component = 'cache';", connection);
        Assert.Equal(1, await command.ExecuteScalarAsync());
    }
}
