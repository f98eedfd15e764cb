using System.Globalization;
using Microsoft.Data.Sqlite;

namespace ModelMix.Budgets;

/// <summary>
/// Connections to a ModelMix SQLite file shared by the key and budget stores, and their migrations. Each
/// component versions itself in <c>modelmix_schema_versions</c> (one row per component), so it never touches the
/// ledger's <c>PRAGMA user_version</c> and the components can be migrated in any order.
/// </summary>
internal sealed class SqliteStoreFile
{
    /// <summary>How long a statement waits for another connection's lock before failing with SQLITE_BUSY.</summary>
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(10);

    private readonly string _writeConnectionString;
    private readonly string _readConnectionString;
    private readonly string _busyTimeoutPragma;

    /// <param name="path">The database file (created when missing).</param>
    /// <param name="busyTimeout">
    /// How long a statement waits for another connection's lock before failing with SQLITE_BUSY: SQLite's
    /// <c>busy_timeout</c> in milliseconds, and the connections' <c>DefaultTimeout</c> (Microsoft.Data.Sqlite retries a busy
    /// statement itself until it passes) in whole seconds, rounded up; <see cref="BusyTimeout"/> when null. Shorter only in
    /// tests, to see a busy file fail without waiting 10 s.
    /// </param>
    public SqliteStoreFile(string path, TimeSpan? busyTimeout = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var timeout = busyTimeout ?? BusyTimeout;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero, nameof(busyTimeout));
        Path = System.IO.Path.GetFullPath(path);
        _busyTimeoutPragma = "PRAGMA busy_timeout = " + ((int)Math.Ceiling(timeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + ";";
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Pooling = true,
            DefaultTimeout = (int)Math.Ceiling(timeout.TotalSeconds), // at least 1: 0 would retry a busy statement forever
            Mode = SqliteOpenMode.ReadWriteCreate,
        };
        _writeConnectionString = builder.ToString();
        builder.Mode = SqliteOpenMode.ReadOnly;
        _readConnectionString = builder.ToString();
    }

    public string Path { get; }

    /// <summary>Opens a read-write connection in WAL mode with the busy timeout set.</summary>
    public SqliteConnection OpenWriter()
    {
        var folder = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        var connection = new SqliteConnection(_writeConnectionString);
        try
        {
            connection.Open();
            Execute(connection, null, _busyTimeoutPragma + " PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Opens a pooled read-only connection.</summary>
    /// <remarks>Continues on a thread-pool thread (see <see cref="ModelMix.Threading.IoThreads"/>): the reads that follow are synchronous.</remarks>
    public async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync();
        var connection = new SqliteConnection(_readConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            Execute(connection, null, _busyTimeoutPragma);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Brings <paramref name="component"/> to the latest of its <paramref name="migrations"/> (step <c>i</c>, 0-based,
    /// brings it to version <c>i + 1</c>) in one <c>BEGIN IMMEDIATE</c> transaction.
    /// </summary>
    public static void Migrate(SqliteConnection connection, string component, IReadOnlyList<string> migrations, string path)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        Execute(connection, transaction, "CREATE TABLE IF NOT EXISTS modelmix_schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL) STRICT;");
        using var read = connection.CreateCommand();
        read.Transaction = transaction;
        read.CommandText = "SELECT version FROM modelmix_schema_versions WHERE component = $c;";
        read.Parameters.AddWithValue("$c", component);
        var version = read.ExecuteScalar() is long stored ? (int)stored : 0;
        if (version > migrations.Count)
        {
            throw new InvalidOperationException(
                $"The {component} tables in '{path}' have schema version {version}, newer than this ModelMix knows (up to {migrations.Count}). " +
                "Upgrade ModelMix, or point it at another file. The database was not changed.");
        }

        for (var next = version + 1; next <= migrations.Count; next++)
        {
            Execute(connection, transaction, migrations[next - 1]);
        }

        if (version < migrations.Count)
        {
            using var write = connection.CreateCommand();
            write.Transaction = transaction;
            write.CommandText = "INSERT INTO modelmix_schema_versions (component, version) VALUES ($c, $v) ON CONFLICT (component) DO UPDATE SET version = excluded.version;";
            write.Parameters.AddWithValue("$c", component);
            write.Parameters.AddWithValue("$v", migrations.Count);
            write.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    public static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
