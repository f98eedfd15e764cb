using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using ModelMix.Postgres;

namespace ModelMix.Stores;

/// <summary>
/// The SQLite store backend: a file path (any store setting that is not a URL or a connection string naming a host)
/// keeps the ledger, keys, budgets and batch queue in one file; cooldowns and cache-warm sessions stay in memory (one
/// process). Register it with <c>services.AddSqliteStores()</c> or <see cref="StoreBackends.Register"/>.
/// </summary>
public sealed class SqliteStoreBackend : IStoreBackend
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;

    private SqliteStoreBackend()
    {
    }

    /// <summary>The backend.</summary>
    public static SqliteStoreBackend Instance { get; } = new();

    /// <inheritdoc />
    public string Name => "SQLite";

    /// <inheritdoc />
    public bool IsLocalFile => true;

    /// <inheritdoc />
    public bool Recognizes(string setting) => !string.IsNullOrWhiteSpace(setting) && !StoreLocation.LooksLikeServer(setting);

    /// <inheritdoc />
    public StoreLocation Parse(string setting)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(setting);
        var path = Path.GetFullPath(setting);
        return new StoreLocation(this, path, path);
    }

    /// <inheritdoc />
    public ILedgerStore CreateLedgerStore(StoreLocation location, ILoggerFactory? loggers) =>
        new SqliteLedgerStore(Of(location), loggers?.CreateLogger<SqliteLedgerStore>());

    /// <inheritdoc />
    public IKeyStore CreateKeyStore(StoreLocation location, TimeProvider? time) => new SqliteKeyStore(Of(location), time);

    /// <inheritdoc />
    public IBudgetStore CreateBudgetStore(StoreLocation location) => new SqliteBudgetStore(Of(location));

    /// <inheritdoc />
    public ICooldownStore CreateCooldownStore(StoreLocation location, TimeProvider? time) => new InMemoryCooldownStore(time);

    /// <inheritdoc />
    /// <remarks>One process owns the file: the store is in memory, answers at once and never fails, so it needs none of the options.</remarks>
    [OverloadResolutionPriority(1)]
    public IPromptCacheWarmStore CreatePromptCacheWarmStore(StoreLocation location, TimeProvider? time, ILoggerFactory? loggers, PromptCacheWarmStoreOptions? options) =>
        new InMemoryPromptCacheWarmStore();

    /// <inheritdoc />
    [Obsolete("Use CreatePromptCacheWarmStore with PromptCacheWarmStoreOptions; this overload goes in the next release.")]
    public IPromptCacheWarmStore CreatePromptCacheWarmStore(StoreLocation location, TimeProvider? time, ILoggerFactory? loggers, PostgresPromptCacheWarmStoreOptions? options) =>
        CreatePromptCacheWarmStore(location, time, loggers, (PromptCacheWarmStoreOptions?)options);

    /// <inheritdoc />
    public IBatchStore CreateBatchStore(StoreLocation location) => new SqliteBatchStore(Of(location));

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> MigrateMoreAsync(StoreLocation location, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>([]);

    /// <inheritdoc />
    public Task<StoreConnectionCapacity?> ReadConnectionCapacityAsync(StoreLocation location, CancellationToken cancellationToken) =>
        Task.FromResult<StoreConnectionCapacity?>(null);

    /// <inheritdoc />
    public string? ClassifyFault(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: SqliteBusy or SqliteLocked } ? "busy" : null;

    private string Of(StoreLocation location) => StoreLocation.ValueFor(location, this);

    /// <summary>Registers the backend with <see cref="StoreBackends"/> when this assembly loads, so the faults of a store created directly are classified.</summary>
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "A library's module initializer: registering the backend its own types need is its purpose.")]
    internal static void RegisterOnLoad() => StoreBackends.Register(Instance);
}
