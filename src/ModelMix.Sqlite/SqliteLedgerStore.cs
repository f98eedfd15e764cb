using System.Data.Common;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Pricing;
using ModelMix.Threading;

namespace ModelMix.Ledger;

/// <summary>
/// The embedded ledger store: one SQLite file in WAL mode with <c>synchronous=NORMAL</c>. Durability: a committed
/// batch survives the process being killed (even <c>kill -9</c>), because the commit is in the WAL file before
/// <see cref="WriteBatchAsync"/> returns; only an operating-system crash or power loss can lose the last few commits
/// not yet synced to disk (the database itself is never corrupted). Costs are stored as exact decimal text and
/// summed as <see cref="decimal"/>, never as floating point.
/// </summary>
/// <remarks>
/// One connection writes (a prepared insert reused for every record, serialized by a lock); each read opens a pooled
/// read-only connection, so reads run concurrently with writes. Other processes may read the file while it is open.
/// </remarks>
public sealed partial class SqliteLedgerStore : IAttemptJournalStore
{
    /// <summary>The file used when no path is configured: <c>./modelmix.db</c>, relative to the working directory.</summary>
    public const string DefaultPath = "./modelmix.db";

    /// <summary>How long a statement waits for a lock held by another connection before failing with SQLITE_BUSY.</summary>
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(5);

    private const string DecimalSumFunction = "modelmix_decimal_sum";

    private readonly string _writeConnectionString;
    private readonly string _readConnectionString;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private SqliteConnection? _writer;
    private SqliteLedgerInsert? _insert;
    private bool _migrated;
    private bool _disposed;

    /// <summary>Creates a store over the SQLite file at <paramref name="path"/> (created, with its folder, when missing).</summary>
    /// <param name="path">The database file; <see cref="DefaultPath"/> when in doubt.</param>
    /// <param name="logger">Receives migration messages; optional.</param>
    public SqliteLedgerStore(string path = DefaultPath, ILogger<SqliteLedgerStore>? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        _logger = logger ?? (ILogger)NullLogger.Instance;
        var common = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            // Stryker disable once Boolean : equivalent (docs/testing.md, twelfth session, ledger-sqlite): unpooled, each read opens the file anew (cost only)
            Pooling = true,
            DefaultTimeout = (int)BusyTimeout.TotalSeconds,
        };
        common.Mode = SqliteOpenMode.ReadWriteCreate;
        _writeConnectionString = common.ToString();
        common.Mode = SqliteOpenMode.ReadOnly;
        _readConnectionString = common.ToString();
    }

    /// <summary>The full path of the database file.</summary>
    public string Path { get; }

    /// <summary>The schema version this code creates and understands (the database's <c>PRAGMA user_version</c>).</summary>
    public static int SchemaVersion => SqliteLedgerSchema.LatestVersion;

    /// <inheritdoc />
    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var connection = OpenWriter();
            using var transaction = connection.BeginTransaction(deferred: false);
            var version = ReadUserVersion(connection, transaction);
            if (version > SqliteLedgerSchema.LatestVersion)
            {
                throw new InvalidOperationException(
                    $"The ledger database '{Path}' has schema version {version}, which is newer than the versions this " +
                    $"ModelMix knows (up to {SqliteLedgerSchema.LatestVersion}). It was written by a newer ModelMix: " +
                    "upgrade ModelMix, or point the ledger at another file. The database was not changed.");
            }

            for (var next = version + 1; next <= SqliteLedgerSchema.LatestVersion; next++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var step = connection.CreateCommand();
                step.Transaction = transaction;
                step.CommandText = SqliteLedgerSchema.Migrations[next - 1] +
                    $"\nPRAGMA user_version = {next.ToString(CultureInfo.InvariantCulture)};";
                step.ExecuteNonQuery();
                LedgerLog.MigrationApplied(_logger, Path, next);
            }

            transaction.Commit();
            _migrated = true;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc />
    public Task WriteBatchAsync(IReadOnlyList<LedgerRecord> records, CancellationToken cancellationToken = default) =>
        CommitAsync(records, [], cancellationToken);

    /// <inheritdoc />
    public async Task CommitAsync(IReadOnlyList<LedgerRecord> records, IReadOnlyList<ReservationSettlement> settlements, CancellationToken cancellationToken = default)
    {
        if (!LedgerRecordRules.RequireCommit(records, settlements))
        {
            return;
        }

        await ModelMix.Threading.IoThreads.LeaveAsync(); // the SQLite work below is synchronous (IoThreads.cs)
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            var connection = OpenCheckedWriter();
            // Stryker disable once Assignment : equivalent (docs/testing.md, twelfth session, ledger-sqlite): a new prepared insert per batch; the old one's statements are finalized with the connection
            var insert = _insert ??= new SqliteLedgerInsert(connection); // prepared after the migrations ran (with the intent delete)
            using var transaction = connection.BeginTransaction(deferred: false);
            insert.StartBatch();
            var leaseOverruns = Budgets.SqliteBudgetStore.ChargeLeasedRecords(connection, transaction, records, _intentFiles is { } files ? files.ReservationOf : null); // before their intents go (budget leases)
            List<Budgets.BudgetOverrunBooked>? booked = null;
            var pacer = CpuPacer.StartDefault(); // a full batch is ~10 ms of CPU: hand the core back now and then
            for (var i = 0; i < records.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (leaseOverruns is not null && leaseOverruns.TryGetValue(records[i].Id, out var overrun))
                {
                    // Charged to no key (BudgetOverrunRule): stored on the row, whose cost stays what the upstream billed.
                    var usd = Budgets.BudgetMoney.ToUsd(overrun);
                    insert.Execute(records[i] with { OverrunUsd = usd });
                    (booked ??= []).Add(new Budgets.BudgetOverrunBooked(records[i].RoutedModel, usd));
                }
                else
                {
                    insert.Execute(records[i]);
                }

                // The attempt's intent (when it journaled one) is done: its record is in this transaction.
                insert.CompleteIntent(records[i].Id);
                // Stryker disable once Statement : equivalent (docs/testing.md, twelfth session, ledger-sqlite): CPU pacing only
                pacer.Tick();
            }

            // Hourly and daily rollups of the rows this transaction inserted (docs/ledger.md), before the settlements and the commit.
            insert.WriteRollups();
            for (var i = 0; i < settlements.Count; i++)
            {
                Budgets.SqliteBudgetStore.SettleFromLedger(connection, transaction, settlements[i].ReservationId, settlements[i].RequestId, booked ??= []);
            }

            transaction.Commit();
            _intentFiles?.Complete(records); // their intents' segments may go (SqliteIntentFiles)
            Budgets.BudgetOverrunMetrics.Report(booked);
            NoteCommitted(1 + (records.Count / 4));
        }
        catch (Exception ex)
            // Stryker disable once all : equivalent (docs/testing.md, twelfth session, ledger-sqlite): the filter only decides whether ResetWriter runs before the rethrow; the reset matters only for a connection an I/O error left unusable; after every failure a test can cause (trigger, constraint, cancellation) the rolled-back connection works as before
            when (ex is not OperationCanceledException and not ObjectDisposedException)
        {
            // The transaction was rolled back. Reopen the connection on the next attempt, so a retry after an I/O
            // error (disk full, file replaced) starts from a clean connection.
            // Stryker disable once Statement : equivalent (docs/testing.md, twelfth session, ledger-sqlite): the reset matters only for a connection an I/O error left unusable; after every failure a test can cause (trigger, constraint, cancellation) the rolled-back connection works as before
            ResetWriter();
            throw;
        }
        finally
        {
            _writeLock.Release();
        }

        CheckpointSoon();
    }

    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRecord> ReadAsync(LedgerQuery query, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.ReadAsync(Dialect, OpenCheckedReaderAsync, query, cancellationToken);

    /// <inheritdoc />
    public async Task<LedgerTotals> GetTotalsAsync(LedgerQuery query, CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        ArgumentNullException.ThrowIfNull(query);
        EnsureReadable();
        await using var connection = await OpenReaderAsync(cancellationToken);

        // SQLite's SUM over REAL is inexact, so cost text is summed as System.Decimal by an application-defined
        // aggregate; integer token sums are exact in SQLite (and fail loudly on overflow).
        connection.CreateAggregate<string?, decimal, string>(
            DecimalSumFunction,
            0m,
            static (sum, text) => text is null ? sum : sum + SqliteLedgerSchema.FromStoredDecimal(text),
            static sum => SqliteLedgerSchema.ToStoredDecimal(sum),
            // Stryker disable once Boolean : equivalent (docs/testing.md, twelfth session, ledger-sqlite): a hint to SQLite's planner; the sum is the same
            isDeterministic: true);

        await using var command = connection.CreateCommand();
        var source = FromClause(command, query, LedgerTotalsRow.Columns);
        command.CommandText =
            $"""
            SELECT COUNT(*), COUNT(*) - COUNT(cost_input),
                   COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
                   COALESCE(SUM(cache_write_5m_tokens), 0), COALESCE(SUM(cache_write_1h_tokens), 0),
                   COALESCE(SUM(cache_read_tokens), 0),
                   {DecimalSumFunction}(cost_input), {DecimalSumFunction}(cost_output),
                   {DecimalSumFunction}(cost_cache_write_5m), {DecimalSumFunction}(cost_cache_write_1h),
                   {DecimalSumFunction}(cost_cache_read),
                   COALESCE(SUM(web_search_requests), 0), COALESCE(SUM(web_fetch_requests), 0),
                   {DecimalSumFunction}(cost_server_tools)
            FROM {source};
            """;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        // Stryker disable once Block,Statement : equivalent (docs/testing.md, twelfth session, ledger-sqlite): an aggregate query always returns one row, so this branch is never taken
        if (!await reader.ReadAsync(cancellationToken))
        {
            return LedgerTotals.Empty;
        }

        return LedgerTotalsRow.Read(reader, s_money); // sums are decimal text
    }

    /// <inheritdoc />
    public async Task<long> CountAsync(LedgerQuery query, CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        ArgumentNullException.ThrowIfNull(query);
        EnsureReadable();
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {FromClause(command, query, "seq")};";
        var result = await command.ExecuteScalarAsync(cancellationToken);
        return Convert.ToInt64(result, CultureInfo.InvariantCulture);
    }

    /// <summary>Closes the write connection and releases the file (pooled read connections are cleared).</summary>
    public async ValueTask DisposeAsync()
    {
        await _writeLock.WaitAsync();
        try
        {
            // Stryker disable once Block,Statement : equivalent (docs/testing.md, twelfth session, ledger-sqlite): closing again is harmless
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _insert?.Dispose();
            _intentFiles?.Dispose();
            if (_writer is not null)
            {
                await _writer.DisposeAsync();
            }

            using (var read = new SqliteConnection(_readConnectionString))
            {
                SqliteConnection.ClearPool(read);
            }

            using (var write = new SqliteConnection(_writeConnectionString))
            {
                SqliteConnection.ClearPool(write);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void ResetWriter()
    {
        // Stryker disable once Statement : equivalent (docs/testing.md, twelfth session, ledger-sqlite): the reset matters only for a connection an I/O error left unusable; after every failure a test can cause (trigger, constraint, cancellation) the rolled-back connection works as before
        _insert?.Dispose();
        _writer?.Dispose();
        _insert = null;
        _writer = null;
    }

    private void EnsureMigrated()
    {
        if (!_migrated)
        {
            throw new InvalidOperationException(
                $"The ledger store '{Path}' has not been migrated: call {nameof(MigrateAsync)} before using it.");
        }
    }

    private void EnsureReadable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        EnsureMigrated();
    }

    /// <summary>
    /// The writer, once the store is known to be writable (not disposed, migrated): the opening of every write, under the
    /// write lock (<see cref="InWriteTransactionAsync"/>, the commit, the intents' heartbeat and reconcile,
    /// the shadow pairs).
    /// </summary>
    private SqliteConnection OpenCheckedWriter()
    {
        EnsureReadable();
        return OpenWriter();
    }

    private SqliteConnection OpenWriter()
    {
        if (_writer is not null)
        {
            return _writer;
        }

        var folder = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        var connection = new SqliteConnection(_writeConnectionString);
        try
        {
            connection.Open();
            using (var pragmas = connection.CreateCommand())
            {
                // WAL: readers never block the writer. synchronous=NORMAL: a commit is in the WAL before it returns
                // (survives a process kill) but is fsynced only at checkpoints (an OS crash may lose the last commits).
                // wal_autocheckpoint=0: checkpoints run off the request path (SqliteLedgerStore.Checkpoints.cs).
                pragmas.CommandText =
                    $"PRAGMA busy_timeout = {(int)BusyTimeout.TotalMilliseconds}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;";
                pragmas.ExecuteNonQuery();
            }

            SqliteLedgerRollups.RegisterFunctions(connection); // exact decimal sums for the rollups and their backfill
            _writer = connection;
            return connection;
        }
        catch
        {
            // Stryker disable once Statement : equivalent (docs/testing.md, twelfth session, ledger-sqlite): a connection that failed to open holds nothing
            connection.Dispose();
            throw;
        }
    }

    private async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        // Stryker disable once Statement : equivalent (docs/testing.md, twelfth session, ledger-sqlite): every caller has left the calling thread before it (IoThreads.cs)
        await ModelMix.Threading.IoThreads.LeaveAsync(); // the reads that follow are synchronous (IoThreads.cs)
        var connection = new SqliteConnection(_readConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var pragma = connection.CreateCommand();
            // Stryker disable once String : equivalent (docs/testing.md, twelfth session, ledger-sqlite): Microsoft.Data.Sqlite retries a busy statement itself up to the command timeout (the same 5 s), and WAL readers are not blocked by the writer
            pragma.CommandText = $"PRAGMA busy_timeout = {(int)BusyTimeout.TotalMilliseconds};";
            // Stryker disable once Statement : equivalent (docs/testing.md, twelfth session, ledger-sqlite): as the line above
            await pragma.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            // Stryker disable once Statement : equivalent (docs/testing.md, twelfth session, ledger-sqlite): a connection that failed to open holds nothing
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Opens a read connection once the store is known to be readable (not disposed, migrated).</summary>
    private async Task<DbConnection> OpenCheckedReaderAsync(CancellationToken cancellationToken)
    {
        EnsureReadable();
        return await OpenReaderAsync(cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="work"/> (the shared SQL of <see cref="LedgerStoreSql"/>) in an immediate transaction of the one
    /// writer connection, under the write lock; a failure other than a refusal (<see cref="InvalidOperationException"/>)
    /// or a cancellation reopens the writer on the next use.
    /// </summary>
    private async Task<T> InWriteTransactionAsync<T>(
        Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // the SQLite work is synchronous (IoThreads.cs)
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            var connection = OpenCheckedWriter();
            using var transaction = connection.BeginTransaction(deferred: false);
            var result = await work(connection, transaction);
            cancellationToken.ThrowIfCancellationRequested();
            transaction.Commit();
            return result;
        }
        catch (Exception ex)
            // Stryker disable once all : equivalent (docs/testing.md, twelfth session, ledger-sqlite): the filter only decides whether ResetWriter runs before the rethrow; the reset matters only for a connection an I/O error left unusable; after every failure a test can cause (trigger, constraint, cancellation) the rolled-back connection works as before
            when (ex is not OperationCanceledException and not ObjectDisposedException and not InvalidOperationException)
        {
            // Stryker disable once Statement : equivalent (docs/testing.md, twelfth session, ledger-sqlite): the reset matters only for a connection an I/O error left unusable; after every failure a test can cause (trigger, constraint, cancellation) the rolled-back connection works as before
            ResetWriter();
            throw;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static int ReadUserVersion(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>A row as a record: the mapping both backends share (<see cref="LedgerRows"/>); money is stored as decimal text, flags as 0/1.</summary>
    private static LedgerRecord ReadRecord(SqliteDataReader r) => LedgerRows.Read(r, s_money, s_flag);

    /// <summary>How the shared ledger SQL (<see cref="LedgerStoreSql"/>) is spelled here: <c>$</c> parameters, ids compared as stored, money as decimal text, id lists as JSON.</summary>
    private static readonly LedgerStoreDialect Dialect = new()
    {
        Marker = '$',
        Id = "id",
        ReadRecord = static reader => ReadRecord((SqliteDataReader)reader),
        ReadMoney = static (reader, i) => SqliteLedgerSchema.FromStoredDecimal(reader.GetString(i)),
        ReadFlag = static (reader, i) => reader.GetInt64(i) != 0,
        AggregateTimeout = null, // the provider's default: it bounds the wait for a locked file
        AddSumFunctions = static connection => SqliteLedgerRollups.RegisterFunctions((SqliteConnection)connection), // exact decimal sums of cost text
        IdIn = static parameter => $"id IN (SELECT value FROM json_each({parameter}))",
        IdList = LedgerExportFile.IdArray,
        Sql = LedgerSqlDialect.Sqlite,
        False = "0",
        ForUpdate = string.Empty,
        LockRollups = null, // one writer: nothing else writes during the transaction
        StoredMoney = static money => SqliteLedgerSchema.ToStoredDecimal(money),
        RecomputeHours = static (connection, transaction, from, to, _) =>
        {
            SqliteLedgerRollups.Recompute((SqliteConnection)connection, (SqliteTransaction)transaction, from, to);
            return Task.CompletedTask;
        },
    };

    private static readonly Func<SqliteDataReader, int, decimal> s_money = static (r, i) => SqliteLedgerSchema.FromStoredDecimal(r.GetString(i));
    private static readonly Func<SqliteDataReader, int, bool> s_flag = static (r, i) => r.GetInt64(i) != 0;

    /// <summary>The rows a query selects, as a FROM source: the table itself, or a limited sub-select of it.</summary>
    private static string FromClause(SqliteCommand command, LedgerQuery query, string columns) =>
        LedgerQuerySource.From(query, columns, '$', Parameters(command));

    // Stryker disable once String : equivalent (docs/testing.md, twelfth session, ledger-sqlite): Microsoft.Data.Sqlite binds a parameter name given without its prefix to $name (as to @name and :name)
    private static Action<string, object> Parameters(SqliteCommand command) => (name, value) => command.Parameters.AddWithValue("$" + name, value);
}
