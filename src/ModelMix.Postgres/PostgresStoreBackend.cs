using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using ModelMix.Postgres;
using Npgsql;

namespace ModelMix.Stores;

/// <summary>
/// The PostgreSQL store backend: a <c>postgres://</c> / <c>postgresql://</c> URL or an Npgsql connection string naming
/// its host keeps the ledger, keys, budgets, cooldowns, cache-warm sessions and batch queue in one database several
/// proxy replicas share. Register it with <c>services.AddPostgresStores()</c> or <see cref="StoreBackends.Register"/>.
/// </summary>
public sealed class PostgresStoreBackend : IStoreBackend
{
    private PostgresStoreBackend()
    {
    }

    /// <summary>The backend.</summary>
    public static PostgresStoreBackend Instance { get; } = new();

    /// <inheritdoc />
    public string Name => "PostgreSQL";

    /// <inheritdoc />
    public bool IsLocalFile => false;

    /// <inheritdoc />
    public bool Recognizes(string setting) => StoreLocation.LooksLikePostgres(setting);

    /// <inheritdoc />
    public StoreLocation Parse(string setting)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(setting);
        var text = setting;
        var builder = text.Trim().Contains("://", StringComparison.Ordinal) ? FromUrl(text.Trim()) : FromKeyValues(text);
        if (string.IsNullOrEmpty(builder.Host))
        {
            throw new FormatException($"The PostgreSQL store '{Redact(builder)}' names no host.");
        }

        if (string.IsNullOrEmpty(builder.Database))
        {
            throw new FormatException($"The PostgreSQL store '{Redact(builder)}' names no database: add /DBNAME to the URL or Database=… to the connection string.");
        }

        return new StoreLocation(this, builder.ConnectionString, Redact(builder));
    }

    /// <inheritdoc />
    public ILedgerStore CreateLedgerStore(StoreLocation location, ILoggerFactory? loggers) =>
        new PostgresLedgerStore(Of(location), loggers?.CreateLogger<PostgresLedgerStore>());

    /// <inheritdoc />
    public IKeyStore CreateKeyStore(StoreLocation location, TimeProvider? time) => new PostgresKeyStore(Of(location), time);

    /// <inheritdoc />
    public IBudgetStore CreateBudgetStore(StoreLocation location) => new PostgresBudgetStore(Of(location));

    /// <inheritdoc />
    public ICooldownStore CreateCooldownStore(StoreLocation location, TimeProvider? time) => new PostgresCooldownStore(Of(location), time);

    /// <inheritdoc />
    /// <remarks>Neutral options tune the shared store's common settings; a <see cref="PostgresPromptCacheWarmStoreOptions"/> also sets its prune interval.</remarks>
    [OverloadResolutionPriority(1)]
    public IPromptCacheWarmStore CreatePromptCacheWarmStore(StoreLocation location, TimeProvider? time, ILoggerFactory? loggers, PromptCacheWarmStoreOptions? options) =>
        new PostgresPromptCacheWarmStore(Of(location), PostgresPromptCacheWarmStoreOptions.From(options), time, loggers?.CreateLogger<PostgresPromptCacheWarmStore>());

    /// <inheritdoc />
    [Obsolete("Use CreatePromptCacheWarmStore with PromptCacheWarmStoreOptions (a PostgresPromptCacheWarmStoreOptions is one); this overload goes in the next release.")]
    public IPromptCacheWarmStore CreatePromptCacheWarmStore(StoreLocation location, TimeProvider? time, ILoggerFactory? loggers, PostgresPromptCacheWarmStoreOptions? options) =>
        CreatePromptCacheWarmStore(location, time, loggers, (PromptCacheWarmStoreOptions?)options);

    /// <inheritdoc />
    public IBatchStore CreateBatchStore(StoreLocation location) => new PostgresBatchStore(Of(location));

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> MigrateMoreAsync(StoreLocation location, CancellationToken cancellationToken)
    {
        await using var warm = new PostgresPromptCacheWarmStore(Of(location));
        await warm.MigrateAsync(cancellationToken);
        return [PostgresPromptCacheWarmStore.Component];
    }

    /// <inheritdoc />
    public async Task<StoreConnectionCapacity?> ReadConnectionCapacityAsync(StoreLocation location, CancellationToken cancellationToken)
    {
        await using var database = new PostgresDatabase(Of(location));
        return await database.ReadConnectionCapacityAsync(cancellationToken);
    }

    /// <inheritdoc />
    public string? ClassifyFault(Exception exception) => exception switch
    {
        PostgresException postgres => OfSqlState(postgres.SqlState),
        NpgsqlException npgsql => npgsql.InnerException switch
        {
            // Npgsql reports a full pool as "The connection pool has been exhausted, …" caused by a TimeoutException.
            TimeoutException => npgsql.Message.Contains("pool", StringComparison.OrdinalIgnoreCase) ? "pool_exhausted" : "timeout",
            IOException or SocketException => "connection",
            _ => npgsql.IsTransient ? "connection" : null,
        },
        _ => null,
    };

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

    private static string? OfSqlState(string sqlState) => sqlState switch
    {
        "53300" => "too_many_connections",
        "53000" or "53100" or "53200" or "53400" => "server_resources",
        "57P01" or "57P02" or "57P03" => "shutdown",
        "57014" => "timeout",
        "40001" or "40P01" or "55P03" => "conflict",
        "25006" => "read_only",
        "58000" or "58030" => "io",
        _ when sqlState.StartsWith("08", StringComparison.Ordinal) => "connection",
        _ => null,
    };

    private string Of(StoreLocation location) => StoreLocation.ValueFor(location, this);

    /// <summary>Registers the backend with <see cref="StoreBackends"/> when this assembly loads, so the faults of a store created directly are classified.</summary>
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "A library's module initializer: registering the backend its own types need is its purpose.")]
    internal static void RegisterOnLoad() => StoreBackends.Register(Instance);
}
