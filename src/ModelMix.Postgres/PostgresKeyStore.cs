using System.Data.Common;
using ModelMix.Keys;
using Npgsql;

namespace ModelMix.Postgres;

/// <summary>
/// Virtual API keys in PostgreSQL, shared by every proxy replica on the database: the same tables and rules as
/// <c>SqliteKeyStore</c> (public id, name, a per-key salt and the HMAC-SHA256 of the secret, admin flag,
/// budget caps, creation and revocation times; never the key itself). Read directly, a key created or revoked on one
/// replica is seen by every other on its next request; through the proxy's <see cref="CachedKeyStore"/>, within its
/// recheck interval (the change version below).
/// </summary>
public sealed class PostgresKeyStore : SqlKeyStore
{
    /// <summary>The component name in <c>modelmix_schema_versions</c>.</summary>
    public const string Component = "keys";

    private static readonly string[] Migrations =
    [
        // 1: keys and their caps (SqlKeyStore.KeyTables).
        KeyTables(text: "text", bytes: "bytea", flag: "boolean", int64: "bigint", keyTable: string.Empty, budgetTable: string.Empty),
        // 2: the change version CachedKeyStore polls. Every statement that inserts, updates, deletes or truncates in
        // either key table bumps it, whoever runs it (any replica, the CLI, SQL by hand), in the writer's transaction;
        // the row lock it takes serializes key changes, which are rare.
        """
        CREATE TABLE api_key_version (
            id      integer PRIMARY KEY CHECK (id = 1),
            version bigint  NOT NULL
        );
        INSERT INTO api_key_version (id, version) VALUES (1, 1);
        CREATE FUNCTION modelmix_api_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE api_key_version SET version = version + 1 WHERE id = 1;
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER api_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys
            FOR EACH STATEMENT EXECUTE FUNCTION modelmix_api_keys_changed();
        CREATE TRIGGER api_key_budgets_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_key_budgets
            FOR EACH STATEMENT EXECUTE FUNCTION modelmix_api_keys_changed();
        """,
    ];

    private readonly PostgresDatabase _database;
    private readonly PostgresMigrator _migrations;
    private int _disposed;

    /// <summary>Creates a store over the PostgreSQL database of <paramref name="connectionString"/> (an Npgsql connection string).</summary>
    /// <param name="connectionString">Host, port, database, user and password.</param>
    /// <param name="time">The clock for creation and revocation times; the system clock when null.</param>
    public PostgresKeyStore(string connectionString, TimeProvider? time = null)
        : base(time)
    {
        _database = new PostgresDatabase(connectionString);
        _migrations = new PostgresMigrator(_database, Component, Migrations);
    }

    /// <inheritdoc />
    public override string Location => _database.Display;

    /// <inheritdoc />
    public override async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        await _migrations.MigrateAsync(cancellationToken);
    }

    /// <summary>Closes the pooled connections.</summary>
    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _database.DisposeAsync();
        }
    }

    private protected override async Task<DbConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        await EnsureMigratedAsync(cancellationToken);
        return await _database.OpenAsync(cancellationToken);
    }

    private protected override async Task WriteAsync(Func<DbConnection, DbTransaction, Task> work, CancellationToken cancellationToken)
    {
        await EnsureMigratedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await work(connection, transaction);
        await transaction.CommitAsync(cancellationToken);
    }

    private protected override bool IsUniqueViolation(DbException exception) => exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private async Task EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        await _migrations.EnsureMigratedAsync(cancellationToken);
    }
}
