using System.Data.Common;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Stores;

namespace ModelMix.Keys;

/// <summary>
/// Virtual API keys in a SQLite file (normally the ledger's own): the public id, the name, a per-key salt and the
/// HMAC-SHA256 of the secret (see <see cref="ApiKeyHasher"/>), the admin flag, the budget caps, and when the key was
/// created and revoked. The key itself is never stored. Lookups go by the id embedded in the presented key, so
/// authentication is one indexed read and one hash, whatever the number of keys.
/// </summary>
public sealed class SqliteKeyStore : IKeyStore, IKeyCredentialStore
{
    /// <summary>The component name in <c>modelmix_schema_versions</c>.</summary>
    public const string Component = "keys";

    private static readonly string[] Migrations =
    [
        // 1: keys and their caps. A name is unique among keys not revoked (a revoked name may be reused).
        // Instants are 100 ns ticks since the Unix epoch (UTC); caps are INTEGER nano-dollars.
        """
        CREATE TABLE api_keys (
            id         TEXT    PRIMARY KEY,
            name       TEXT    NOT NULL,
            salt       BLOB    NOT NULL,
            hash       BLOB    NOT NULL,
            is_admin   INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        ) STRICT;
        CREATE UNIQUE INDEX ux_api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
        CREATE TABLE api_key_budgets (
            key_id    TEXT    NOT NULL REFERENCES api_keys (id),
            period    TEXT    NOT NULL,
            cap_nanos INTEGER NOT NULL,
            PRIMARY KEY (key_id, period)
        ) STRICT, WITHOUT ROWID;
        """,
        // 2: the change version CachedKeyStore polls. Every row inserted, updated or deleted in either key table bumps
        // it, whoever writes (this store, the CLI, another process, SQL by hand), in the writer's own transaction.
        """
        CREATE TABLE api_key_version (
            id      INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL
        ) STRICT;
        INSERT INTO api_key_version (id, version) VALUES (1, 1);
        CREATE TRIGGER api_keys_changed_insert AFTER INSERT ON api_keys BEGIN UPDATE api_key_version SET version = version + 1 WHERE id = 1; END;
        CREATE TRIGGER api_keys_changed_update AFTER UPDATE ON api_keys BEGIN UPDATE api_key_version SET version = version + 1 WHERE id = 1; END;
        CREATE TRIGGER api_keys_changed_delete AFTER DELETE ON api_keys BEGIN UPDATE api_key_version SET version = version + 1 WHERE id = 1; END;
        CREATE TRIGGER api_key_budgets_changed_insert AFTER INSERT ON api_key_budgets BEGIN UPDATE api_key_version SET version = version + 1 WHERE id = 1; END;
        CREATE TRIGGER api_key_budgets_changed_update AFTER UPDATE ON api_key_budgets BEGIN UPDATE api_key_version SET version = version + 1 WHERE id = 1; END;
        CREATE TRIGGER api_key_budgets_changed_delete AFTER DELETE ON api_key_budgets BEGIN UPDATE api_key_version SET version = version + 1 WHERE id = 1; END;
        """,
    ];

    private readonly SqliteStoreFile _file;
    private readonly SqliteWriterGate _gate; // the write connection and its lock (SqliteWriterGate.cs)
    private readonly TimeProvider _time;
    private readonly ApiKeyReads _reads; // the reads both key stores share (ApiKeyReads.cs)
    private bool _migrated;

    /// <summary>Creates a store over the SQLite file at <paramref name="path"/> (created when missing).</summary>
    /// <param name="path">The database file, normally the ledger's.</param>
    /// <param name="time">The clock for creation and revocation times; the system clock when null.</param>
    public SqliteKeyStore(string path, TimeProvider? time = null)
    {
        _file = new SqliteStoreFile(path);
        _gate = new SqliteWriterGate(_file, GetType().FullName!);
        _time = time ?? TimeProvider.System;
        _reads = new ApiKeyReads(OpenReaderAsync);
    }

    /// <summary>The full path of the database file.</summary>
    public string Path => _file.Path;

    /// <inheritdoc />
    public string Location => Path;

    /// <summary>Creates or upgrades the key tables.</summary>
    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        using var lease = await _gate.EnterAsync(cancellationToken);
        SqliteStoreFile.Migrate(lease.Connection, Component, Migrations, Path);
        _migrated = true;
    }

    /// <summary>Creates a key; the returned <see cref="CreatedApiKey.Key"/> is the only copy of it.</summary>
    /// <exception cref="ApiKeyException">The name is invalid or already used by a key that is not revoked.</exception>
    public async Task<CreatedApiKey> CreateAsync(string name, IReadOnlyList<BudgetCap>? budgets = null, bool isAdmin = false, CancellationToken cancellationToken = default)
    {
        var draft = ApiKeyDraft.Create(name, budgets, isAdmin);
        await EnsureMigratedAsync(cancellationToken);
        var now = _time.GetUtcNow();
        using var lease = await _gate.EnterAsync(cancellationToken);
        var connection = lease.Connection;
        using var transaction = connection.BeginTransaction(deferred: false);
        using (var insert = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO api_keys (id, name, salt, hash, is_admin, created_at) VALUES ($id, $name, $salt, $hash, $admin, $created);";
            insert.Parameters.AddWithValue("$id", draft.Id);
            insert.Parameters.AddWithValue("$name", name);
            insert.Parameters.AddWithValue("$salt", draft.Salt);
            insert.Parameters.AddWithValue("$hash", draft.Hash);
            insert.Parameters.AddWithValue("$admin", draft.IsAdmin ? 1 : 0);
            insert.Parameters.AddWithValue("$created", SqliteLedgerSchema.ToStoredTimestamp(now));
            try
            {
                insert.ExecuteNonQuery();
            }
            catch (SqliteException exception) when (exception.SqliteErrorCode == 19)
            {
                throw ApiKeyRules.DuplicateName(name, exception);
            }
        }

        foreach (var cap in draft.Budgets)
        {
            using var insertCap = connection.CreateCommand();
            insertCap.Transaction = transaction;
            insertCap.CommandText = "INSERT INTO api_key_budgets (key_id, period, cap_nanos) VALUES ($id, $period, $cap);";
            insertCap.Parameters.AddWithValue("$id", draft.Id);
            insertCap.Parameters.AddWithValue("$period", BudgetPeriods.ToCode(cap.Window));
            insertCap.Parameters.AddWithValue("$cap", BudgetMoney.CapToNanos(cap.AmountUsd));
            insertCap.ExecuteNonQuery();
        }

        transaction.Commit();

        return draft.Created(now);
    }

    /// <summary>Every key, oldest first (revoked ones included when asked).</summary>
    public Task<IReadOnlyList<ApiKeyInfo>> ListAsync(bool includeRevoked = true, CancellationToken cancellationToken = default) =>
        _reads.ListAsync(includeRevoked, cancellationToken);

    /// <summary>The key with this id, or else the key not revoked with this name; null when none.</summary>
    public Task<ApiKeyInfo?> FindAsync(string nameOrId, CancellationToken cancellationToken = default) => _reads.FindAsync(nameOrId, cancellationToken);

    /// <summary>Revokes the key with this id, or else the key not revoked with this name; it stops working at once.</summary>
    /// <exception cref="ApiKeyException">No such key, or it is already revoked.</exception>
    public async Task<ApiKeyInfo> RevokeAsync(string nameOrId, CancellationToken cancellationToken = default)
    {
        var key = await _reads.FindRevocableAsync(nameOrId, cancellationToken);
        var now = _time.GetUtcNow();
        using var lease = await _gate.EnterAsync(cancellationToken);
        using var update = lease.Connection.CreateCommand();
        update.CommandText = "UPDATE api_keys SET revoked_at = $now WHERE id = $id AND revoked_at IS NULL;";
        update.Parameters.AddWithValue("$now", SqliteLedgerSchema.ToStoredTimestamp(now));
        update.Parameters.AddWithValue("$id", key.Id);
        update.ExecuteNonQuery();

        return key with { RevokedAt = now };
    }

    /// <summary>Whether any key that is not revoked exists (then every proxy request must present one).</summary>
    public Task<bool> HasActiveKeysAsync(CancellationToken cancellationToken = default) => _reads.HasActiveKeysAsync(cancellationToken);

    /// <summary>
    /// The key a client presented, when it is a valid key that is not revoked; null otherwise. The row is found by
    /// the public id, the secret checked in constant time. One store read per call: the proxy puts a
    /// <see cref="CachedKeyStore"/> in front.
    /// </summary>
    public Task<ApiKeyInfo?> AuthenticateAsync(string? presented, CancellationToken cancellationToken = default) =>
        _reads.AuthenticateAsync(presented, cancellationToken);

    /// <inheritdoc />
    Task<long> IKeyCredentialStore.GetChangeVersionAsync(CancellationToken cancellationToken) => _reads.ChangeVersionAsync(cancellationToken);

    /// <inheritdoc />
    Task<StoredApiKey?> IKeyCredentialStore.FindStoredAsync(string id, CancellationToken cancellationToken) => _reads.FindStoredAsync(id, cancellationToken);

    /// <summary>Closes the write connection.</summary>
    public ValueTask DisposeAsync() => _gate.DisposeAsync();

    private async Task<DbConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        await EnsureMigratedAsync(cancellationToken);
        return await _file.OpenReaderAsync(cancellationToken);
    }

    private async Task EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        if (!Volatile.Read(ref _migrated))
        {
            await MigrateAsync(cancellationToken);
        }
    }

}
