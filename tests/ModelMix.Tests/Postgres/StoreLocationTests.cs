using Microsoft.Extensions.Logging;
using ModelMix.Batching;
using ModelMix.Budgets;
using ModelMix.Caching;
using ModelMix.Cooldowns;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Stores;

namespace ModelMix.Tests.Postgres;

public sealed class StoreLocationTests
{
    [Fact]
    public void A_postgres_url_becomes_an_npgsql_connection_string_and_displays_without_the_password()
    {
        var location = StoreLocation.Parse("postgres://mmx:p%40ss-w0rd@db.internal:6543/modelmix?sslmode=require");

        Assert.IsType<PostgresStoreBackend>(location.Backend);
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(location.Value);
        Assert.Equal("db.internal", builder.Host);
        Assert.Equal(6543, builder.Port);
        Assert.Equal("modelmix", builder.Database);
        Assert.Equal("mmx", builder.Username);
        Assert.Equal("p@ss-w0rd", builder.Password);
        Assert.Equal(Npgsql.SslMode.Require, builder.SslMode);
        Assert.Equal("postgres://mmx@db.internal:6543/modelmix", location.Display);
        Assert.DoesNotContain("p@ss", location.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("postgres://mmx:hunter2@db:5432/modelmix", "ModelMix.Postgres", "AddPostgresStores()")]
    [InlineData("Host=db;Database=mmx;Username=u;Password=hunter2", "ModelMix.Postgres", "AddPostgresStores()")]
    [InlineData("data/modelmix.db", "ModelMix.Sqlite", "AddSqliteStores()")]
    public void A_setting_no_registered_backend_recognizes_names_the_package_to_add_and_never_the_password(string setting, string package, string call)
    {
        var error = Assert.Throws<FormatException>(() => StoreLocation.Parse(setting, []));

        Assert.Contains($"add the package {package}", error.Message, StringComparison.Ordinal);
        Assert.Contains(call, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_the_backend_for_the_settings_form_is_used()
    {
        // SQLite alone registered: a PostgreSQL URL is refused (not taken for a file path), a path is SQLite's.
        Assert.Throws<FormatException>(() => StoreLocation.Parse("postgres://u@db/mmx", [SqliteStoreBackend.Instance]));
        Assert.IsType<SqliteStoreBackend>(StoreLocation.Parse("modelmix.db", [SqliteStoreBackend.Instance]).Backend);
        Assert.Throws<FormatException>(() => StoreLocation.Parse("modelmix.db", [PostgresStoreBackend.Instance]));
        Assert.Throws<FormatException>(() => StoreLocation.Parse("mysql://u@db/mmx", [SqliteStoreBackend.Instance, PostgresStoreBackend.Instance]));
    }

    [Fact]
    public void An_npgsql_connection_string_is_postgres_and_a_path_is_sqlite()
    {
        var npgsql = StoreLocation.Parse("Host=127.0.0.1;Port=5433;Database=mmx;Username=u;Password=hunter2");
        Assert.IsType<PostgresStoreBackend>(npgsql.Backend);
        Assert.Equal("postgres://u@127.0.0.1:5433/mmx", npgsql.Display);

        var sqlite = StoreLocation.Parse("data/modelmix.db");
        Assert.IsType<SqliteStoreBackend>(sqlite.Backend);
        Assert.True(sqlite.IsLocalFile);
        Assert.Equal(Path.GetFullPath("data/modelmix.db"), sqlite.Value);
    }

    [Theory]
    [InlineData("postgres://u:hunter2@host/")]
    [InlineData("Host=h;Password=hunter2;Bogus Key=1")]
    public void A_malformed_postgres_store_is_refused_without_showing_the_password(string text)
    {
        var error = Assert.Throws<FormatException>(() => StoreLocation.Parse(text));

        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sqlite_location_keeps_warm_sessions_in_memory_whatever_the_options()
    {
        var location = StoreLocation.Parse(Path.Combine(Path.GetTempPath(), "unused.db"), [SqliteStoreBackend.Instance]);

        Assert.IsType<InMemoryPromptCacheWarmStore>(location.CreatePromptCacheWarmStore(null, null, new PromptCacheWarmStoreOptions { LocalCacheTtl = TimeSpan.Zero }));
        Assert.IsType<InMemoryPromptCacheWarmStore>(location.CreatePromptCacheWarmStore(null, null, new PostgresPromptCacheWarmStoreOptions { PruneInterval = TimeSpan.FromMinutes(7) }));
    }

    [Fact]
    public void A_backend_that_implements_only_the_obsolete_member_gets_the_neutral_options_as_postgres_options()
    {
        var backend = new OldBackend();
        var location = new StoreLocation(backend, "old", "old");
        var neutral = new PromptCacheWarmStoreOptions { LocalCacheTtl = TimeSpan.Zero, ReadTimeout = TimeSpan.FromSeconds(3), RetryAfterFailure = TimeSpan.FromSeconds(4) };

        var store = location.CreatePromptCacheWarmStore(null, null, neutral); // the interface's default member forwards

        Assert.Same(backend.Made, store);
        var given = Assert.IsType<PostgresPromptCacheWarmStoreOptions>(backend.Given);
        Assert.Equal(TimeSpan.Zero, given.LocalCacheTtl);
        Assert.Equal(TimeSpan.FromSeconds(3), given.ReadTimeout);
        Assert.Equal(TimeSpan.FromSeconds(4), given.RetryAfterFailure);
        Assert.Equal(TimeSpan.FromMinutes(1), given.PruneInterval); // the PostgreSQL options' default

        var postgres = new PostgresPromptCacheWarmStoreOptions { PruneInterval = TimeSpan.FromMinutes(7) };
        location.CreatePromptCacheWarmStore(null, null, postgres);
        Assert.Same(postgres, backend.Given);

        location.CreatePromptCacheWarmStore();
        Assert.Null(backend.Given);
        Assert.Equal(3, backend.Calls);
    }

    /// <summary>A third-party backend written before the neutral options: it implements only the obsolete member.</summary>
    private sealed class OldBackend : IStoreBackend
    {
        public IPromptCacheWarmStore Made { get; } = new InMemoryPromptCacheWarmStore();

        public PostgresPromptCacheWarmStoreOptions? Given { get; private set; }

        public int Calls { get; private set; }

        public string Name => "Old";

        public bool IsLocalFile => true;

        [Obsolete("The member under test.")]
        public IPromptCacheWarmStore CreatePromptCacheWarmStore(StoreLocation location, TimeProvider? time, ILoggerFactory? loggers, PostgresPromptCacheWarmStoreOptions? options)
        {
            Given = options;
            Calls++;
            return Made;
        }

        public bool Recognizes(string setting) => false;

        public StoreLocation Parse(string setting) => throw new NotSupportedException();

        public ILedgerStore CreateLedgerStore(StoreLocation location, ILoggerFactory? loggers) => throw new NotSupportedException();

        public IKeyStore CreateKeyStore(StoreLocation location, TimeProvider? time) => throw new NotSupportedException();

        public IBudgetStore CreateBudgetStore(StoreLocation location) => throw new NotSupportedException();

        public ICooldownStore CreateCooldownStore(StoreLocation location, TimeProvider? time) => throw new NotSupportedException();

        public IBatchStore CreateBatchStore(StoreLocation location) => throw new NotSupportedException();

        public Task<IReadOnlyList<string>> MigrateMoreAsync(StoreLocation location, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<StoreConnectionCapacity?> ReadConnectionCapacityAsync(StoreLocation location, CancellationToken cancellationToken) => throw new NotSupportedException();

        public string? ClassifyFault(Exception exception) => null;
    }
}
