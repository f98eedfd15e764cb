using System.Data.Common;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;

namespace ModelMix.Keys;

/// <summary>
/// Virtual API keys in a SQLite file (normally the ledger's own): the public id, the name, a per-key salt and the
/// HMAC-SHA256 of the secret (see <see cref="ApiKeyHasher"/>), the admin flag, the budget caps, and when the key was
/// created and revoked. The key itself is never stored. Lookups go by the id embedded in the presented key, so
/// authentication is one indexed read and one hash, whatever the number of keys.
/// </summary>
public sealed class SqliteKeyStore : SqlKeyStore
{
    /// <summary>The component name in <c>modelmix_schema_versions</c>.</summary>
    public const string Component = "keys";

    private static readonly string[] Migrations =
    [
        // 1: keys and their caps (SqlKeyStore.KeyTables).
        KeyTables(text: "TEXT", bytes: "BLOB", flag: "INTEGER", int64: "INTEGER", keyTable: " STRICT", budgetTable: " STRICT, WITHOUT ROWID"),
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
    private bool _migrated;

    /// <summary>Creates a store over the SQLite file at <paramref name="path"/> (created when missing).</summary>
    /// <param name="path">The database file, normally the ledger's.</param>
    /// <param name="time">The clock for creation and revocation times; the system clock when null.</param>
    public SqliteKeyStore(string path, TimeProvider? time = null)
        : this(path, SqliteStoreFile.BusyTimeout, time)
    {
    }

    /// <summary>
    /// Creates a store whose statements wait <paramref name="busyTimeout"/> for another connection's lock before failing
    /// (<see cref="SqliteStoreFile(string, TimeSpan?)"/>; tests use a short one to see a busy file fail at once).
    /// </summary>
    internal SqliteKeyStore(string path, TimeSpan busyTimeout, TimeProvider? time)
        : base(time)
    {
        _file = new SqliteStoreFile(path, busyTimeout);
        _gate = new SqliteWriterGate(_file, GetType().FullName!);
    }

    /// <summary>The full path of the database file.</summary>
    public string Path => _file.Path;

    /// <inheritdoc />
    public override string Location => Path;

    /// <summary>Creates or upgrades the key tables.</summary>
    public override async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        using var lease = await _gate.EnterAsync(cancellationToken);
        SqliteStoreFile.Migrate(lease.Connection, Component, Migrations, Path);
        _migrated = true;
    }

    /// <summary>Closes the write connection.</summary>
    public override ValueTask DisposeAsync() => _gate.DisposeAsync();

    private protected override async Task<DbConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        await EnsureMigratedAsync(cancellationToken);
        return await _file.OpenReaderAsync(cancellationToken);
    }

    private protected override async Task WriteAsync(Func<DbConnection, DbTransaction, Task> work, CancellationToken cancellationToken)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        await EnsureMigratedAsync(cancellationToken);
        using var lease = await _gate.EnterAsync(cancellationToken);
        // Stryker disable once Boolean : equivalent (docs/testing.md, keys-sqlite): every work's first statement writes (CreateAsync's INSERT, RevokeAsync's UPDATE), and SQLite retries a write that opens the transaction through the busy handler from a fresh snapshot, as BEGIN IMMEDIATE waits (SqliteBudgetStore.TryReserve's mark, which SqliteBudgetStoreContentionTests checks)
        using var transaction = lease.Connection.BeginTransaction(deferred: false);
        await work(lease.Connection, transaction); // Microsoft.Data.Sqlite runs its async calls synchronously, under the gate
        transaction.Commit();
    }

    private protected override bool IsUniqueViolation(DbException exception) => exception is SqliteException { SqliteErrorCode: 19 };

    private async Task EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        if (!Volatile.Read(ref _migrated))
        {
            await MigrateAsync(cancellationToken);
        }
    }
}
