using Npgsql;
using ModelMix.Stores;

namespace ModelMix.Postgres;

/// <summary>
/// One pooled PostgreSQL data source and the migrations of ModelMix's components in it. Each component (ledger,
/// keys, budgets, cooldowns) versions itself in <c>modelmix_schema_versions</c>, and migrations run under a
/// transaction-level advisory lock, so several replicas starting at once migrate the database exactly once.
/// </summary>
internal sealed class PostgresDatabase : IAsyncDisposable
{
    /// <summary>The advisory lock key every ModelMix migration takes ("MMXMIGR" in ASCII).</summary>
    private const long MigrationLockKey = 0x4D4D584D494752;

    // One pool per connection string per process: the ledger, key, budget and cooldown stores of a replica share
    // it, so a replica uses at most Maximum Pool Size (default 100) server connections, not four times that.
    private static readonly Dictionary<string, (NpgsqlDataSource Source, int Users)> Shared = new(StringComparer.Ordinal);
    private static readonly Lock SharedLock = new();

    private readonly string _key;
    private int _disposed;

    public PostgresDatabase(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        Display = StoreLocation.Redact(connectionString);
        _key = connectionString;
        lock (SharedLock)
        {
            if (Shared.TryGetValue(connectionString, out var entry))
            {
                Shared[connectionString] = (entry.Source, entry.Users + 1);
                DataSource = entry.Source;
                return;
            }

            var builder = new NpgsqlDataSourceBuilder(connectionString);
            builder.ConnectionStringBuilder.ApplicationName ??= "modelmix";
            if (!connectionString.Contains("timeout", StringComparison.OrdinalIgnoreCase))
            {
                // Under a burst, requests queue for a pooled connection; wait longer than Npgsql's 15 s before failing one.
                builder.ConnectionStringBuilder.Timeout = 60;
            }

            DataSource = builder.Build();
            Shared[connectionString] = (DataSource, 1);
        }
    }

    /// <summary>The database for messages, without its password.</summary>
    public string Display { get; }

    public NpgsqlDataSource DataSource { get; }

    public ValueTask<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) => DataSource.OpenConnectionAsync(cancellationToken);

    /// <summary>
    /// Brings <paramref name="component"/> to the latest of its <paramref name="migrations"/> (step <c>i</c>, 0-based,
    /// brings it to version <c>i + 1</c>) in one transaction; refuses a version newer than this code knows.
    /// </summary>
    /// <returns>The versions applied (empty when the component was current).</returns>
    public async Task<IReadOnlyList<int>> MigrateAsync(string component, IReadOnlyList<string> migrations, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, transaction, $"SELECT pg_advisory_xact_lock({MigrationLockKey});", cancellationToken);
        await ExecuteAsync(connection, transaction, "CREATE TABLE IF NOT EXISTS modelmix_schema_versions (component text PRIMARY KEY, version integer NOT NULL);", cancellationToken);
        int version;
        await using (var read = new NpgsqlCommand("SELECT version FROM modelmix_schema_versions WHERE component = $1;", connection, transaction))
        {
            read.Parameters.Add(new NpgsqlParameter { Value = component });
            version = await read.ExecuteScalarAsync(cancellationToken) is int stored ? stored : 0;
        }

        if (version > migrations.Count)
        {
            throw new InvalidOperationException(
                $"The {component} tables in the PostgreSQL database '{Display}' have schema version {version}, which is newer than the versions " +
                $"this ModelMix knows (up to {migrations.Count}). It was written by a newer ModelMix: upgrade ModelMix, or point it at another " +
                "database. The database was not changed.");
        }

        var applied = new List<int>();
        for (var next = version + 1; next <= migrations.Count; next++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await ExecuteAsync(connection, transaction, migrations[next - 1], cancellationToken);
            applied.Add(next);
        }

        if (applied.Count > 0)
        {
            await using var write = new NpgsqlCommand(
                "INSERT INTO modelmix_schema_versions (component, version) VALUES ($1, $2) ON CONFLICT (component) DO UPDATE SET version = excluded.version;",
                connection,
                transaction);
            write.Parameters.Add(new NpgsqlParameter { Value = component });
            write.Parameters.Add(new NpgsqlParameter { Value = migrations.Count });
            await write.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return applied;
    }

    public static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        lock (SharedLock)
        {
            var entry = Shared[_key];
            if (entry.Users > 1)
            {
                Shared[_key] = (entry.Source, entry.Users - 1);
                return ValueTask.CompletedTask;
            }

            Shared.Remove(_key);
        }

        return DataSource.DisposeAsync();
    }
}
