using System.Data.Common;
using ModelMix.Budgets;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Stores;
using Npgsql;

namespace ModelMix.Postgres;

/// <summary>
/// Virtual API keys in PostgreSQL, shared by every proxy replica on the database: the same tables and rules as
/// <c>SqliteKeyStore</c> (public id, name, a per-key salt and the HMAC-SHA256 of the secret, admin flag,
/// budget caps, creation and revocation times; never the key itself). Read directly, a key created or revoked on one
/// replica is seen by every other on its next request; through the proxy's <see cref="CachedKeyStore"/>, within its
/// recheck interval (the change version below).
/// </summary>
public sealed class PostgresKeyStore : IKeyStore, IKeyCredentialStore
{
    /// <summary>The component name in <c>modelmix_schema_versions</c>.</summary>
    public const string Component = "keys";

    private static readonly string[] Migrations =
    [
        // 1: keys and their caps. A name is unique among keys not revoked (a revoked name may be reused).
        // Instants are 100 ns ticks since the Unix epoch (UTC); caps are bigint nano-dollars.
        """
        CREATE TABLE api_keys (
            id         text    PRIMARY KEY,
            name       text    NOT NULL,
            salt       bytea   NOT NULL,
            hash       bytea   NOT NULL,
            is_admin   boolean NOT NULL,
            created_at bigint  NOT NULL,
            revoked_at bigint
        );
        CREATE UNIQUE INDEX ux_api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
        CREATE TABLE api_key_budgets (
            key_id    text   NOT NULL REFERENCES api_keys (id),
            period    text   NOT NULL,
            cap_nanos bigint NOT NULL,
            PRIMARY KEY (key_id, period)
        );
        """,
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
    private readonly TimeProvider _time;
    private readonly ApiKeyReads _reads; // the reads both key stores share (ApiKeyReads.cs)
    private readonly PostgresMigrator _migrations;
    private int _disposed;

    /// <summary>Creates a store over the PostgreSQL database of <paramref name="connectionString"/> (an Npgsql connection string).</summary>
    /// <param name="connectionString">Host, port, database, user and password.</param>
    /// <param name="time">The clock for creation and revocation times; the system clock when null.</param>
    public PostgresKeyStore(string connectionString, TimeProvider? time = null)
    {
        _database = new PostgresDatabase(connectionString);
        _migrations = new PostgresMigrator(_database, Component, Migrations);
        _time = time ?? TimeProvider.System;
        _reads = new ApiKeyReads(OpenReaderAsync);
    }

    /// <inheritdoc />
    public string Location => _database.Display;

    /// <inheritdoc />
    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        await _migrations.MigrateAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<CreatedApiKey> CreateAsync(string name, IReadOnlyList<BudgetCap>? budgets = null, bool isAdmin = false, CancellationToken cancellationToken = default)
    {
        var draft = ApiKeyDraft.Create(name, budgets, isAdmin);
        await EnsureMigratedAsync(cancellationToken);
        var now = _time.GetUtcNow();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var insert = new NpgsqlCommand(
            "INSERT INTO api_keys (id, name, salt, hash, is_admin, created_at) VALUES (@id, @name, @salt, @hash, @admin, @created);", connection, transaction))
        {
            insert.Parameters.AddWithValue("id", draft.Id);
            insert.Parameters.AddWithValue("name", name);
            insert.Parameters.AddWithValue("salt", draft.Salt);
            insert.Parameters.AddWithValue("hash", draft.Hash);
            insert.Parameters.AddWithValue("admin", draft.IsAdmin);
            insert.Parameters.AddWithValue("created", SqliteLedgerSchema.ToStoredTimestamp(now));
            try
            {
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                throw ApiKeyRules.DuplicateName(name, exception);
            }
        }

        foreach (var cap in draft.Budgets)
        {
            await using var insertCap = new NpgsqlCommand("INSERT INTO api_key_budgets (key_id, period, cap_nanos) VALUES (@id, @period, @cap);", connection, transaction);
            insertCap.Parameters.AddWithValue("id", draft.Id);
            insertCap.Parameters.AddWithValue("period", BudgetPeriods.ToCode(cap.Window));
            insertCap.Parameters.AddWithValue("cap", BudgetMoney.CapToNanos(cap.AmountUsd));
            await insertCap.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return draft.Created(now);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ApiKeyInfo>> ListAsync(bool includeRevoked = true, CancellationToken cancellationToken = default) =>
        _reads.ListAsync(includeRevoked, cancellationToken);

    /// <inheritdoc />
    public Task<ApiKeyInfo?> FindAsync(string nameOrId, CancellationToken cancellationToken = default) => _reads.FindAsync(nameOrId, cancellationToken);

    /// <inheritdoc />
    public async Task<ApiKeyInfo> RevokeAsync(string nameOrId, CancellationToken cancellationToken = default)
    {
        var key = await _reads.FindRevocableAsync(nameOrId, cancellationToken);
        var now = _time.GetUtcNow();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var update = new NpgsqlCommand("UPDATE api_keys SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL;", connection);
        update.Parameters.AddWithValue("now", SqliteLedgerSchema.ToStoredTimestamp(now));
        update.Parameters.AddWithValue("id", key.Id);
        await update.ExecuteNonQueryAsync(cancellationToken);
        return key with { RevokedAt = now };
    }

    /// <inheritdoc />
    public Task<bool> HasActiveKeysAsync(CancellationToken cancellationToken = default) => _reads.HasActiveKeysAsync(cancellationToken);

    /// <inheritdoc />
    public Task<ApiKeyInfo?> AuthenticateAsync(string? presented, CancellationToken cancellationToken = default) =>
        _reads.AuthenticateAsync(presented, cancellationToken);

    /// <inheritdoc />
    Task<long> IKeyCredentialStore.GetChangeVersionAsync(CancellationToken cancellationToken) => _reads.ChangeVersionAsync(cancellationToken);

    /// <inheritdoc />
    Task<StoredApiKey?> IKeyCredentialStore.FindStoredAsync(string id, CancellationToken cancellationToken) => _reads.FindStoredAsync(id, cancellationToken);

    /// <summary>Closes the pooled connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _database.DisposeAsync();
        }
    }


    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private async Task<DbConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        await EnsureMigratedAsync(cancellationToken);
        return await _database.OpenAsync(cancellationToken);
    }

    private async Task EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        await _migrations.EnsureMigratedAsync(cancellationToken);
    }
}
