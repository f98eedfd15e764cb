using System.Runtime.CompilerServices;
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
/// Where ModelMix keeps its ledger, keys, budgets and shared cooldowns, read from one setting (<c>ModelMix:Store</c>,
/// <c>--db</c>): a SQLite file path (the embedded default, one process; package <c>ModelMix.Sqlite</c>), or a PostgreSQL
/// database shared by several proxy replicas (package <c>ModelMix.Postgres</c>), given as a URL
/// (<c>postgres://user:password@host:5432/modelmix</c>) or an Npgsql connection string
/// (<c>Host=…;Database=…;Username=…;Password=…</c>). The setting's form picks the registered <see cref="IStoreBackend"/>
/// (<see cref="StoreBackends"/>), which opens the stores. <see cref="ToString"/> never shows the password.
/// </summary>
public sealed class StoreLocation
{
    /// <summary>A location of <paramref name="backend"/> (backends call it from their <see cref="IStoreBackend.Parse"/>).</summary>
    /// <param name="backend">The backend that opens the stores.</param>
    /// <param name="value">The file path or connection string (may hold a password).</param>
    /// <param name="display">The location for messages and logs, without any password.</param>
    public StoreLocation(IStoreBackend backend, string value, string display)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentException.ThrowIfNullOrEmpty(value);
        ArgumentException.ThrowIfNullOrEmpty(display);
        Backend = backend;
        Value = value;
        Display = display;
    }

    /// <summary>The backend that opens the stores of this location.</summary>
    public IStoreBackend Backend { get; }

    /// <summary>Whether the store is one file on this machine (one process) rather than a server replicas share.</summary>
    public bool IsLocalFile => Backend.IsLocalFile;

    /// <summary>The SQLite file path, or the Npgsql connection string (with its password: never log it).</summary>
    public string Value { get; }

    /// <summary>The location for messages and logs: the file path, or the connection without its password.</summary>
    public string Display { get; }

    /// <summary>Whether <paramref name="text"/> names a PostgreSQL database rather than a SQLite file (by its form alone).</summary>
    public static bool LooksLikePostgres(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var trimmed = text.Trim();
        if (trimmed.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        // An Npgsql key=value string names its server; a file path never starts with "Host=".
        return trimmed.Contains('=', StringComparison.Ordinal)
            && trimmed.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Any(part => part.StartsWith("host=", StringComparison.OrdinalIgnoreCase) || part.StartsWith("server=", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// Whether <paramref name="text"/> names a database server rather than a file: a URL (<c>scheme://…</c>) or a
    /// key=value connection string that names its host. Every other setting is a file path.
    /// </summary>
    public static bool LooksLikeServer(string? text) =>
        LooksLikePostgres(text) || (!string.IsNullOrWhiteSpace(text) && text.Trim().Contains("://", StringComparison.Ordinal));

    /// <summary>
    /// Whether <paramref name="text"/> names a local store file that does not exist (a command that reads the store
    /// then says so instead of creating an empty one); false for a server, whose existence only a connection tells.
    /// </summary>
    public static bool NamesMissingFile(string text) =>
        (StoreBackends.Find(text)?.IsLocalFile ?? !LooksLikeServer(text)) && !File.Exists(text);

    /// <summary>
    /// Parses a store setting with the registered backend that recognizes it; a message that names the setting (never
    /// the password) when it is malformed, and one that names the package to add when no backend is registered for it.
    /// </summary>
    /// <exception cref="FormatException">A setting that cannot be read, or one no registered backend recognizes.</exception>
    public static StoreLocation Parse(string text) => Parse(text, StoreBackends.Registered);

    /// <summary>Parses a store setting with the first of <paramref name="backends"/> that recognizes it.</summary>
    internal static StoreLocation Parse(string text, IReadOnlyList<IStoreBackend> backends)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        foreach (var backend in backends)
        {
            if (backend.Recognizes(text))
            {
                return backend.Parse(text);
            }
        }

        throw new FormatException(NoBackendMessage(text));
    }

    /// <summary>Opens the ledger store (not yet migrated).</summary>
    public ILedgerStore CreateLedgerStore(ILoggerFactory? loggers = null) => Backend.CreateLedgerStore(this, loggers);

    /// <summary>Opens the virtual key store (migrated on first use).</summary>
    public IKeyStore CreateKeyStore(TimeProvider? time = null) => Backend.CreateKeyStore(this, time);

    /// <summary>Opens the budget store (migrated on first use).</summary>
    public IBudgetStore CreateBudgetStore() => Backend.CreateBudgetStore(this);

    /// <summary>
    /// The cooldown store: shared through the database for PostgreSQL (so replicas see each other's 429/529s), in
    /// memory for SQLite (one process).
    /// </summary>
    public ICooldownStore CreateCooldownStore(TimeProvider? time = null) => Backend.CreateCooldownStore(this, time);

    /// <summary>
    /// The cache-warm session store of cache-aware routing: shared through the database for PostgreSQL (a session
    /// warmed through one replica stays on its warm model on another), in memory for SQLite (one process).
    /// </summary>
    /// <param name="time">The store's clock; the system clock when null.</param>
    /// <param name="loggers">Where a shared store reports an unreachable database.</param>
    /// <param name="options">
    /// Tuning (defaults when null): the settings every backend honours, or a backend's own derived class
    /// (<see cref="PostgresPromptCacheWarmStoreOptions"/> adds PostgreSQL's prune interval).
    /// </param>
    [OverloadResolutionPriority(1)]
    public IPromptCacheWarmStore CreatePromptCacheWarmStore(TimeProvider? time = null, ILoggerFactory? loggers = null, PromptCacheWarmStoreOptions? options = null) =>
        Backend.CreatePromptCacheWarmStore(this, time, loggers, options);

    /// <summary>The cache-warm session store, tuned by options named after PostgreSQL although every backend is asked.</summary>
    /// <param name="time">The store's clock; the system clock when null.</param>
    /// <param name="loggers">Where a shared store reports an unreachable database.</param>
    /// <param name="options">Tuning; defaults when null.</param>
    [Obsolete("Use CreatePromptCacheWarmStore with PromptCacheWarmStoreOptions (a PostgresPromptCacheWarmStoreOptions is one); this overload goes in the next release.")]
    public IPromptCacheWarmStore CreatePromptCacheWarmStore(TimeProvider? time = null, ILoggerFactory? loggers = null, PostgresPromptCacheWarmStoreOptions? options = null) =>
        Backend.CreatePromptCacheWarmStore(this, time, loggers, (PromptCacheWarmStoreOptions?)options);

    /// <summary>
    /// Opens the batch queue (migrated on first use): shared by the replicas on PostgreSQL, where one replica's batcher
    /// works at a time (<see cref="IBatchLeadership"/>); in the ledger's file on SQLite.
    /// </summary>
    public IBatchStore CreateBatchStore() => Backend.CreateBatchStore(this);

    /// <summary>Applies every migration of every component (ledger, keys, budgets, cooldowns, batches; on PostgreSQL also the shared cache-warm sessions) and returns what was done, one line each.</summary>
    public async Task<IReadOnlyList<string>> MigrateAllAsync(ILoggerFactory? loggers = null, CancellationToken cancellationToken = default)
    {
        var done = new List<string>();
        await using (var ledger = CreateLedgerStore(loggers))
        {
            await ledger.MigrateAsync(cancellationToken);
            done.Add("ledger");
        }

        await using (var keys = CreateKeyStore())
        {
            await keys.MigrateAsync(cancellationToken);
            done.Add("keys");
        }

        await using (var budgets = CreateBudgetStore())
        {
            await budgets.MigrateAsync(cancellationToken);
            done.Add("budgets");
        }

        await using (var cooldowns = CreateCooldownStore())
        {
            await cooldowns.MigrateAsync(cancellationToken);
            done.Add("cooldowns");
        }

        await using (var batches = CreateBatchStore())
        {
            await batches.MigrateAsync(cancellationToken);
            done.Add("batches");
        }

        done.AddRange(await Backend.MigrateMoreAsync(this, cancellationToken));
        return done;
    }

    /// <summary>
    /// For a PostgreSQL store, how many connections the server lets this role open against how many one replica's pool
    /// may (<see cref="StoreConnectionCapacity"/>; <c>modelmix serve</c> warns at start when
    /// <c>ModelMix:Replicas</c> × <c>Maximum Pool Size</c> exceeds it). Null for a SQLite file.
    /// </summary>
    public Task<StoreConnectionCapacity?> ReadConnectionCapacityAsync(CancellationToken cancellationToken = default) =>
        Backend.ReadConnectionCapacityAsync(this, cancellationToken);

    /// <summary>The location for messages: the file path, or the PostgreSQL connection without its password.</summary>
    public override string ToString() => Display;

    /// <summary>The <see cref="Value"/> of a location of <paramref name="backend"/> (a backend's check that it opens only its own).</summary>
    internal static string ValueFor(StoreLocation location, IStoreBackend backend)
    {
        ArgumentNullException.ThrowIfNull(location);
        return location.Backend == backend ? location.Value
            : throw new ArgumentException($"The store {location} is not a {backend.Name} store.", nameof(location));
    }

    private static string NoBackendMessage(string text)
    {
        // Name the kind of store and the package, never the setting itself (a connection string may hold a password).
        var (name, package, call) = LooksLikePostgres(text) ? ("a PostgreSQL database", "ModelMix.Postgres", "AddPostgresStores()")
            : LooksLikeServer(text) ? ($"a '{text.Trim()[..text.Trim().IndexOf("://", StringComparison.Ordinal)]}://' database", "a ModelMix store package for it", "its registration")
            : ("a SQLite file", "ModelMix.Sqlite", "AddSqliteStores()");
        return $"The store setting names {name}, but no store backend for it is registered: add the package {package} " +
            $"and call services.{call} (or StoreBackends.Register(...)).";
    }
}
