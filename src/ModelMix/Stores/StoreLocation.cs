using System.Globalization;
using Microsoft.Extensions.Logging;
using ModelMix.Batching;
using ModelMix.Budgets;
using ModelMix.Caching;
using ModelMix.Cooldowns;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Postgres;
using Npgsql;

namespace ModelMix.Stores;

/// <summary>
/// Where ModelMix keeps its ledger, keys, budgets and shared cooldowns, read from one setting (<c>ModelMix:Store</c>,
/// <c>--db</c>): a SQLite file path (the embedded default, one process), or a PostgreSQL database shared by several
/// proxy replicas, given as a URL (<c>postgres://user:password@host:5432/modelmix</c>) or an Npgsql connection string
/// (<c>Host=…;Database=…;Username=…;Password=…</c>). <see cref="ToString"/> never shows the password.
/// </summary>
public sealed class StoreLocation
{
    private StoreLocation(bool isPostgres, string value, string display)
    {
        IsPostgres = isPostgres;
        Value = value;
        Display = display;
    }

    /// <summary>Whether the store is a PostgreSQL database (otherwise a SQLite file).</summary>
    public bool IsPostgres { get; }

    /// <summary>The SQLite file path, or the Npgsql connection string (with its password: never log it).</summary>
    public string Value { get; }

    /// <summary>The location for messages and logs: the file path, or the connection without its password.</summary>
    public string Display { get; }

    /// <summary>Whether <paramref name="text"/> names a PostgreSQL database rather than a SQLite file.</summary>
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

    /// <summary>Parses a store setting; a message that names the setting (never the password) when it is malformed.</summary>
    /// <exception cref="FormatException">A PostgreSQL URL or connection string that cannot be read.</exception>
    public static StoreLocation Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        if (!LooksLikePostgres(text))
        {
            var path = Path.GetFullPath(text);
            return new StoreLocation(false, path, path);
        }

        var builder = text.Trim().Contains("://", StringComparison.Ordinal) ? FromUrl(text.Trim()) : FromKeyValues(text);
        if (string.IsNullOrEmpty(builder.Host))
        {
            throw new FormatException($"The PostgreSQL store '{Redact(builder)}' names no host.");
        }

        if (string.IsNullOrEmpty(builder.Database))
        {
            throw new FormatException($"The PostgreSQL store '{Redact(builder)}' names no database: add /DBNAME to the URL or Database=… to the connection string.");
        }

        return new StoreLocation(true, builder.ConnectionString, Redact(builder));
    }

    /// <summary>Opens the ledger store (not yet migrated).</summary>
    public ILedgerStore CreateLedgerStore(ILoggerFactory? loggers = null) => IsPostgres
        ? new PostgresLedgerStore(Value, loggers?.CreateLogger<PostgresLedgerStore>())
        : new SqliteLedgerStore(Value, loggers?.CreateLogger<SqliteLedgerStore>());

    /// <summary>Opens the virtual key store (migrated on first use).</summary>
    public IKeyStore CreateKeyStore(TimeProvider? time = null) => IsPostgres
        ? new PostgresKeyStore(Value, time)
        : new SqliteKeyStore(Value, time);

    /// <summary>Opens the budget store (migrated on first use).</summary>
    public IBudgetStore CreateBudgetStore() => IsPostgres ? new PostgresBudgetStore(Value) : new SqliteBudgetStore(Value);

    /// <summary>
    /// The cooldown store: shared through the database for PostgreSQL (so replicas see each other's 429/529s), in
    /// memory for SQLite (one process).
    /// </summary>
    public ICooldownStore CreateCooldownStore(TimeProvider? time = null) => IsPostgres
        ? new PostgresCooldownStore(Value, time)
        : new InMemoryCooldownStore(time);

    /// <summary>
    /// The cache-warm session store of cache-aware routing: shared through the database for PostgreSQL (a session
    /// warmed through one replica stays on its warm model on another), in memory for SQLite (one process).
    /// </summary>
    public IPromptCacheWarmStore CreatePromptCacheWarmStore(TimeProvider? time = null, ILoggerFactory? loggers = null, PostgresPromptCacheWarmStoreOptions? options = null) => IsPostgres
        ? new PostgresPromptCacheWarmStore(Value, options, time, loggers?.CreateLogger<PostgresPromptCacheWarmStore>())
        : new InMemoryPromptCacheWarmStore();

    /// <summary>
    /// Opens the batch queue (migrated on first use): shared by the replicas on PostgreSQL, where one replica's batcher
    /// works at a time (<see cref="IBatchLeadership"/>); in the ledger's file on SQLite.
    /// </summary>
    public IBatchStore CreateBatchStore() => IsPostgres ? new PostgresBatchStore(Value) : new SqliteBatchStore(Value);

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

        if (IsPostgres)
        {
            await using var warm = new PostgresPromptCacheWarmStore(Value);
            await warm.MigrateAsync(cancellationToken);
            done.Add(PostgresPromptCacheWarmStore.Component);
        }

        return done;
    }

    /// <summary>
    /// For a PostgreSQL store, how many connections the server lets this role open against how many one replica's pool
    /// may (<see cref="StoreConnectionCapacity"/>; <c>modelmix serve</c> warns at start when
    /// <c>ModelMix:Replicas</c> × <c>Maximum Pool Size</c> exceeds it). Null for a SQLite file.
    /// </summary>
    public async Task<StoreConnectionCapacity?> ReadConnectionCapacityAsync(CancellationToken cancellationToken = default)
    {
        if (!IsPostgres)
        {
            return null;
        }

        await using var database = new PostgresDatabase(Value);
        return await database.ReadConnectionCapacityAsync(cancellationToken);
    }

    /// <summary>The location for messages: the file path, or the PostgreSQL connection without its password.</summary>
    public override string ToString() => Display;

    /// <summary>A connection string without its password, for messages.</summary>
    internal static string Redact(string connectionString)
    {
        try
        {
            return Redact(new NpgsqlConnectionStringBuilder(connectionString));
        }
        catch (ArgumentException)
        {
            return "(an unreadable PostgreSQL connection string)";
        }
    }

    private static string Redact(NpgsqlConnectionStringBuilder builder)
    {
        var port = builder.Port.ToString(CultureInfo.InvariantCulture);
        var user = string.IsNullOrEmpty(builder.Username) ? string.Empty : builder.Username + "@";
        return $"postgres://{user}{builder.Host}:{port}/{builder.Database}";
    }

    private static NpgsqlConnectionStringBuilder FromKeyValues(string text)
    {
        try
        {
            return new NpgsqlConnectionStringBuilder(text);
        }
        catch (ArgumentException exception)
        {
            // The message of the parser may quote the string (and so the password): say only what kind of problem it is.
            throw new FormatException("The PostgreSQL connection string could not be read: use Host=…;Port=…;Database=…;Username=…;Password=… " +
                $"or postgres://user:password@host:5432/database ({exception.GetType().Name}).");
        }
    }

    private static NpgsqlConnectionStringBuilder FromUrl(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new FormatException("The PostgreSQL store URL could not be read: use postgres://user:password@host:5432/database.");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
        };
        if (uri.UserInfo is { Length: > 0 } info)
        {
            var colon = info.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? info : info[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(info[(colon + 1)..]);
            }
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            var value = equals < 0 ? string.Empty : Uri.UnescapeDataString(pair[(equals + 1)..]);
            try
            {
                builder[key.Replace('_', ' ')] = value;
            }
            catch (ArgumentException)
            {
                throw new FormatException($"The PostgreSQL store URL has the option '{key}', which Npgsql does not know.");
            }
        }

        return builder;
    }
}
