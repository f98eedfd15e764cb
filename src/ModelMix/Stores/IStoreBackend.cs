using Microsoft.Extensions.Logging;
using ModelMix.Batching;
using ModelMix.Budgets;
using ModelMix.Caching;
using ModelMix.Cooldowns;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Postgres;

namespace ModelMix.Stores;

/// <summary>
/// One kind of database ModelMix can keep its ledger, keys, budgets, cooldowns, cache-warm sessions and batch queue
/// in: SQLite (<c>ModelMix.Sqlite</c>: <c>SqliteStoreBackend</c>, a file path) or PostgreSQL (<c>ModelMix.Postgres</c>:
/// <c>PostgresStoreBackend</c>, a <c>postgres://</c> URL or an Npgsql connection string). A backend is registered
/// (<see cref="StoreBackends.Register"/>, or <c>services.AddSqliteStores()</c> / <c>AddPostgresStores()</c>), and
/// <see cref="StoreLocation.Parse(string)"/> hands a store setting to the first registered backend that
/// <see cref="Recognizes">recognizes</see> it; the core package itself references no database driver.
/// </summary>
public interface IStoreBackend
{
    /// <summary>The database's name for messages (<c>SQLite</c>, <c>PostgreSQL</c>).</summary>
    string Name { get; }

    /// <summary>
    /// Whether the store is one file on this machine (so a missing file means an empty store, and one process owns it),
    /// rather than a server several replicas share.
    /// </summary>
    bool IsLocalFile { get; }

    /// <summary>Whether <paramref name="setting"/> (a <c>ModelMix:Store</c> / <c>--db</c> value) names a store of this backend.</summary>
    bool Recognizes(string setting);

    /// <summary>Reads a setting this backend <see cref="Recognizes">recognizes</see>; a message without any password when it is malformed.</summary>
    /// <exception cref="FormatException">A setting that cannot be read.</exception>
    StoreLocation Parse(string setting);

    /// <summary>Opens the ledger store (not yet migrated).</summary>
    ILedgerStore CreateLedgerStore(StoreLocation location, ILoggerFactory? loggers);

    /// <summary>Opens the virtual key store (migrated on first use).</summary>
    IKeyStore CreateKeyStore(StoreLocation location, TimeProvider? time);

    /// <summary>Opens the budget store (migrated on first use).</summary>
    IBudgetStore CreateBudgetStore(StoreLocation location);

    /// <summary>The cooldown store (in memory for a local file, shared through the database otherwise).</summary>
    ICooldownStore CreateCooldownStore(StoreLocation location, TimeProvider? time);

    /// <summary>The cache-warm session store of cache-aware routing (in memory for a local file, shared otherwise).</summary>
    IPromptCacheWarmStore CreatePromptCacheWarmStore(StoreLocation location, TimeProvider? time, ILoggerFactory? loggers, PostgresPromptCacheWarmStoreOptions? options);

    /// <summary>Opens the batch queue (migrated on first use).</summary>
    IBatchStore CreateBatchStore(StoreLocation location);

    /// <summary>
    /// Migrates what this backend keeps beyond the ledger, keys, budgets, cooldowns and batches (PostgreSQL: the shared
    /// cache-warm sessions); returns the components done.
    /// </summary>
    Task<IReadOnlyList<string>> MigrateMoreAsync(StoreLocation location, CancellationToken cancellationToken);

    /// <summary>How many connections the server lets this role open (<see cref="StoreConnectionCapacity"/>); null for a store without connection limits.</summary>
    Task<StoreConnectionCapacity?> ReadConnectionCapacityAsync(StoreLocation location, CancellationToken cancellationToken);

    /// <summary>
    /// Why <paramref name="exception"/>, an error of this backend's driver, is transient, in one of the words of
    /// <see cref="StoreFaults.ReasonOf"/>; null when it is not this driver's or not transient.
    /// </summary>
    string? ClassifyFault(Exception exception);
}
