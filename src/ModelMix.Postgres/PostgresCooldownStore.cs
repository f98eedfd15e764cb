using ModelMix.Cooldowns;
using ModelMix.Ledger;
using Npgsql;

namespace ModelMix.Postgres;

/// <summary>
/// Cooldowns shared by every proxy replica on the database: one row per model with the instant its cooldown ends
/// (100 ns ticks since the Unix epoch). Replicas compare against their own clocks, so keep them in sync (NTP).
/// </summary>
public sealed class PostgresCooldownStore : ICooldownStore
{
    /// <summary>The component name in <c>modelmix_schema_versions</c>.</summary>
    public const string Component = "cooldowns";

    private static readonly string[] Migrations =
    [
        "CREATE TABLE model_cooldowns (model text PRIMARY KEY, until_at bigint NOT NULL);",
    ];

    private readonly PostgresDatabase _database;
    private readonly PostgresMigrator _migrations;
    private int _disposed;

    /// <summary>Creates a store over the PostgreSQL database of <paramref name="connectionString"/> (an Npgsql connection string).</summary>
    /// <param name="connectionString">Host, port, database, user and password.</param>
    /// <param name="time">Unused (instants come from the caller); accepted so both stores are created alike.</param>
    public PostgresCooldownStore(string connectionString, TimeProvider? time = null)
    {
        _ = time;
        _database = new PostgresDatabase(connectionString);
        _migrations = new PostgresMigrator(_database, Component, Migrations);
    }

    /// <inheritdoc />
    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _migrations.MigrateAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task CoolDownAsync(string model, DateTimeOffset until, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        await EnsureMigratedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "INSERT INTO model_cooldowns (model, until_at) VALUES (@m, @u) ON CONFLICT (model) DO UPDATE SET until_at = GREATEST(model_cooldowns.until_at, excluded.until_at);",
            connection);
        command.Parameters.AddWithValue("m", model.ToLowerInvariant());
        command.Parameters.AddWithValue("u", SqliteLedgerSchema.ToStoredTimestamp(until));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, DateTimeOffset>> GetActiveAsync(DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await EnsureMigratedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT model, until_at FROM model_cooldowns WHERE until_at > @now;", connection);
        command.Parameters.AddWithValue("now", SqliteLedgerSchema.ToStoredTimestamp(at));
        var active = new Dictionary<string, DateTimeOffset>(StringComparer.OrdinalIgnoreCase);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            active[reader.GetString(0)] = SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(1));
        }

        return active;
    }

    /// <summary>Closes the pooled connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _database.DisposeAsync();
        }
    }

    private async Task EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _migrations.EnsureMigratedAsync(cancellationToken);
    }
}
