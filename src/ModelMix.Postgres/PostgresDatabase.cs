using System.Diagnostics;
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

    /// <summary>The connection wait (Npgsql's <c>Timeout</c>, in seconds) when the connection string sets none.</summary>
    public const int DefaultConnectionWaitSeconds = 60;

    /// <summary>The first pause before a refused connection is tried again; each further one doubles, up to <see cref="MaxRetryDelay"/>.</summary>
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(50);

    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);

    // One pool per connection string per process: the ledger, key, budget and cooldown stores of a replica share
    // it, so a replica uses at most Maximum Pool Size (default 100) server connections, not four times that.
    private static readonly Dictionary<string, (NpgsqlDataSource Source, int Users)> Shared = new(StringComparer.Ordinal);
    private static readonly Lock SharedLock = new();

    private readonly string _key;
    private int _disposed;

    public PostgresDatabase(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        Display = PostgresStoreBackend.Redact(connectionString);
        _key = connectionString;
        lock (SharedLock)
        {
            if (Shared.TryGetValue(connectionString, out var entry))
            {
                Shared[connectionString] = (entry.Source, entry.Users + 1);
                DataSource = entry.Source;
                ConnectionWait = WaitOf(DataSource);
                return;
            }

            var builder = new NpgsqlDataSourceBuilder(connectionString);
            builder.ConnectionStringBuilder.ApplicationName ??= "modelmix";
            if (!SetsTimeout(connectionString))
            {
                // How long a request waits for a connection (a pooled one to come free, or a new one the server refuses
                // for now) before it is answered 503: longer than Npgsql's 15 s, so a burst or a failover slows requests
                // rather than failing them.
                builder.ConnectionStringBuilder.Timeout = DefaultConnectionWaitSeconds;
            }

            DataSource = builder.Build();
            Shared[connectionString] = (DataSource, 1);
        }

        ConnectionWait = WaitOf(DataSource);
    }

    private static TimeSpan WaitOf(NpgsqlDataSource source) => TimeSpan.FromSeconds(new NpgsqlConnectionStringBuilder(source.ConnectionString).Timeout);

    /// <summary>Whether the connection string sets Npgsql's <c>Timeout</c> itself (not <c>Command Timeout</c> or another key containing the word).</summary>
    private static bool SetsTimeout(string connectionString)
    {
        try
        {
            return new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString }.ContainsKey("Timeout");
        }
        catch (ArgumentException)
        {
            return false; // Npgsql reports the malformed string when the data source is built
        }
    }

    /// <summary>The database for messages, without its password.</summary>
    public string Display { get; }

    public NpgsqlDataSource DataSource { get; }

    /// <summary>
    /// How long an open may wait in all: Npgsql's <c>Timeout</c> (the pool's wait for a free connection, and a new
    /// connection's set-up), which also bounds the retries of <see cref="OpenAsync"/>; zero waits without bound.
    /// </summary>
    public TimeSpan ConnectionWait { get; }

    /// <summary>
    /// A pooled connection. An idle pooled connection is handed back at once (no allocation here); otherwise the pool
    /// waits for one to come free, and a new connection the server refuses for a reason that passes (too many
    /// connections, starting up or shutting down, connection refused during a failover: <see cref="StoreFaults"/>) is
    /// tried again with back-off, all within <see cref="ConnectionWait"/> of the first try. After that the last error is
    /// thrown (a transient one, which the proxy answers 503).
    /// </summary>
    public ValueTask<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var opening = DataSource.OpenConnectionAsync(cancellationToken);
        return opening.IsCompletedSuccessfully ? opening : OpenPatientlyAsync(opening, cancellationToken);
    }

    private async ValueTask<NpgsqlConnection> OpenPatientlyAsync(ValueTask<NpgsqlConnection> opening, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var bounded = ConnectionWait > TimeSpan.Zero;
        var delay = FirstRetryDelay;
        Exception? refused = null;
        CancellationTokenSource? deadline = null;
        try
        {
            while (true)
            {
                try
                {
                    return await opening;
                }
                catch (Exception) when (refused is not null && deadline?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
                {
                    // The wait ran out during a retry (Npgsql reports that as a cancellation, bare or wrapped): the error
                    // to report is the server's last refusal.
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(refused);
                }
                catch (Exception exception) when (!cancellationToken.IsCancellationRequested && StoreFaults.IsTransient(exception))
                {
                    refused = exception;
                }

                // Jittered, so refused requests do not come back in step; never past the end of the wait.
                var pause = delay * (0.75 + (Random.Shared.NextDouble() / 2));
                if (bounded && ConnectionWait - Stopwatch.GetElapsedTime(started) <= pause)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(refused);
                }

                await Task.Delay(pause, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
                var token = cancellationToken;
                if (bounded)
                {
                    // The retry's own pool wait and set-up end with the overall wait, not a whole Timeout later.
                    var left = ConnectionWait - Stopwatch.GetElapsedTime(started);
                    if (left <= TimeSpan.Zero)
                    {
                        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(refused);
                    }

                    deadline?.Dispose();
                    deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    deadline.CancelAfter(left);
                    token = deadline.Token;
                }

                opening = DataSource.OpenConnectionAsync(token);
            }
        }
        finally
        {
            deadline?.Dispose();
        }
    }

    /// <summary>
    /// Reads what the server lets this role open (<c>max_connections</c>, the reserved slots, the role's and the
    /// database's connection limits) against this pool's <c>Maximum Pool Size</c>.
    /// </summary>
    public async Task<StoreConnectionCapacity> ReadConnectionCapacityAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // reserved_connections exists from PostgreSQL 16 (current_setting(…, true) is null before).
        await using var command = new NpgsqlCommand(
            """
            SELECT current_setting('max_connections')::int,
                   current_setting('superuser_reserved_connections')::int + coalesce(current_setting('reserved_connections', true), '0')::int,
                   r.rolsuper, r.rolconnlimit, d.datconnlimit
            FROM pg_roles r, pg_database d
            WHERE r.rolname = current_user AND d.datname = current_database();
            """,
            connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException($"The PostgreSQL database '{Display}' did not say its connection limits.");
        }

        var superuser = reader.GetBoolean(2);
        return new StoreConnectionCapacity
        {
            MaxConnections = reader.GetInt32(0),
            ReservedConnections = reader.GetInt32(1),
            Superuser = superuser,
            RoleLimit = !superuser && reader.GetInt32(3) >= 0 ? reader.GetInt32(3) : null,
            DatabaseLimit = !superuser && reader.GetInt32(4) >= 0 ? reader.GetInt32(4) : null,
            PoolSize = new NpgsqlConnectionStringBuilder(DataSource.ConnectionString).MaxPoolSize,
        };
    }

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
            // No command timeout: a step that rebuilds from the stored rows (a rollup backfill) takes minutes on a large ledger.
            await using (var step = new NpgsqlCommand(migrations[next - 1], connection, transaction) { CommandTimeout = 0 })
            {
                await step.ExecuteNonQueryAsync(cancellationToken);
            }

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
