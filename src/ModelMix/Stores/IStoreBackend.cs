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
    /// <param name="location">A location of this backend.</param>
    /// <param name="time">The store's clock; the system clock when null.</param>
    /// <param name="loggers">Where a shared store reports an unreachable database.</param>
    /// <param name="options">
    /// Tuning (defaults when null): the settings every backend honours, or a backend's own class derived from
    /// <see cref="PromptCacheWarmStoreOptions"/> (a backend given another class's options uses their common settings).
    /// </param>
    /// <remarks>
    /// The default implementation, for a backend written before this member, calls the obsolete overload with the
    /// options as <see cref="PostgresPromptCacheWarmStoreOptions"/>; a backend implements this member instead. (No
    /// overload priority here, or the default implementation would call itself: through this interface an argument
    /// typed <see cref="PostgresPromptCacheWarmStoreOptions"/>, or a bare <c>null</c>, still picks the obsolete overload;
    /// <see cref="StoreLocation.CreatePromptCacheWarmStore(TimeProvider?, ILoggerFactory?, PromptCacheWarmStoreOptions?)"/>
    /// and the backends' own methods prefer this one.)
    /// </remarks>
    IPromptCacheWarmStore CreatePromptCacheWarmStore(StoreLocation location, TimeProvider? time, ILoggerFactory? loggers, PromptCacheWarmStoreOptions? options)
#pragma warning disable CS0618 // the forwarding for a backend that implements only the obsolete member
        => CreatePromptCacheWarmStore(location, time, loggers, PostgresPromptCacheWarmStoreOptions.From(options));
#pragma warning restore CS0618

    /// <summary>The cache-warm session store, tuned by options named after PostgreSQL although every backend is asked.</summary>
    /// <param name="location">A location of this backend.</param>
    /// <param name="time">The store's clock; the system clock when null.</param>
    /// <param name="loggers">Where a shared store reports an unreachable database.</param>
    /// <param name="options">Tuning; defaults when null.</param>
    [Obsolete("Use CreatePromptCacheWarmStore with PromptCacheWarmStoreOptions (a PostgresPromptCacheWarmStoreOptions is one); this overload goes in the next release.")]
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
