using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// What the SQLite ledger store does besides storing and reading rows, written from the <c>ledger-sqlite</c> mutation
/// run (docs/testing.md, seventh session): the refusal of a newer database in full (and that it changes nothing),
/// each migration step logged, a migration cancelled half-way rolled back whole, a WAL checkpoint once about 1,000
/// pages were committed, a failed commit rolled back without spoiling the next one, a missing folder created, and
/// disposal releasing the file (the last connection closed checkpoints the WAL and removes it).
/// </summary>
public sealed class SqliteLedgerStoreSurvivorTests : IDisposable
{
    // A guard against a hung test, never a wait for something to happen: every wait below is a poll with this deadline.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    private async Task<SqliteLedgerStore> OpenAsync(string? path = null)
    {
        var store = new SqliteLedgerStore(path ?? _db.FilePath);
        await store.MigrateAsync();
        return store;
    }

    [Fact]
    public async Task A_newer_database_is_refused_in_full_and_left_as_it_was()
    {
        using (var connection = _db.OpenIndependentConnection())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "CREATE TABLE future (x INTEGER); PRAGMA user_version = 99;";
            command.ExecuteNonQuery();
        }

        await using (var store = new SqliteLedgerStore(_db.FilePath))
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.MigrateAsync());

            Assert.Equal(
                $"The ledger database '{_db.FilePath}' has schema version 99, which is newer than the versions this " +
                $"ModelMix knows (up to {SqliteLedgerStore.SchemaVersion}). It was written by a newer ModelMix: " +
                "upgrade ModelMix, or point the ledger at another file. The database was not changed.",
                error.Message);
        }

        using var check = _db.OpenIndependentConnection();
        Assert.Equal(99L, Scalar(check, "PRAGMA user_version;"));
        Assert.Equal(0L, Scalar(check, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'ledger_records';"));
        Assert.Equal(1L, Scalar(check, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'future';"));
    }

    [Fact]
    public async Task Each_migration_step_is_logged_with_the_file_and_its_version()
    {
        var logger = new ListLogger<SqliteLedgerStore>();
        await using var store = new SqliteLedgerStore(_db.FilePath, logger);

        await store.MigrateAsync();
        await store.MigrateAsync(); // nothing left to apply: nothing more logged

        var expected = Enumerable.Range(1, SqliteLedgerStore.SchemaVersion)
            .Select(v => $"Ledger database '{_db.FilePath}' migrated to schema version {v}.");
        Assert.Equal(expected, logger.Entries.Select(e => e.Message));
        Assert.All(logger.Entries, e => Assert.Equal(LogLevel.Information, e.Level));
    }

    [Fact]
    public async Task A_migration_cancelled_between_steps_is_rolled_back_whole_and_can_run_again()
    {
        using var cancel = new CancellationTokenSource();
        var logger = new CancelOnFirstEntry(cancel); // the first step is applied, then the caller cancels
        await using var store = new SqliteLedgerStore(_db.FilePath, logger);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.MigrateAsync(cancel.Token));

        Assert.Equal(1, logger.Entries); // it stopped before the second step
        using (var check = _db.OpenIndependentConnection())
        {
            Assert.Equal(0L, Scalar(check, "PRAGMA user_version;")); // the first step went with the transaction
            Assert.Equal(0L, Scalar(check, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'ledger_records';"));
        }

        await store.MigrateAsync();
        await store.WriteBatchAsync(LedgerRecords.Many(2));
        Assert.Equal(2, await store.CountAsync(LedgerQuery.All));
    }

    [Fact]
    public async Task About_a_thousand_pages_committed_bring_a_checkpoint_off_the_request_path()
    {
        await using var store = await OpenAsync();
        Assert.Equal(0, store.CheckpointsRun);

        // The store counts 1 page per commit plus 1 per 4 records: 1 + 3,996 / 4 = 1 + 999 = 1,000 = CheckpointAfterPages.
        await store.WriteBatchAsync(LedgerRecords.Many(3_996));

        await PollAsync(() => store.CheckpointsRun == 1);
        Assert.Equal(3_996, await store.CountAsync(LedgerQuery.All));
    }

    [Fact]
    public async Task A_failed_commit_is_rolled_back_and_the_next_commit_goes_through()
    {
        await using var store = await OpenAsync();
        await store.WriteBatchAsync([LedgerRecords.Simple(0)]); // the insert is prepared on the writer connection
        using (var connection = _db.OpenIndependentConnection())
        using (var command = connection.CreateCommand())
        {
            // Another connection makes one id fail, as a full disk or a broken file would fail a commit.
            command.CommandText = "CREATE TRIGGER refuse_bad BEFORE INSERT ON ledger_records WHEN NEW.id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;";
            command.ExecuteNonQuery();
        }

        var error = await Assert.ThrowsAnyAsync<SqliteException>(() => store.WriteBatchAsync([LedgerRecords.Simple(1), LedgerRecords.Simple(2, id: "bad")]));
        Assert.Contains("refused by the test", error.Message, StringComparison.Ordinal);

        await store.WriteBatchAsync([LedgerRecords.Simple(3)]);

        var ids = new List<string>();
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            ids.Add(record.Id);
        }

        Assert.Equal(["rec-00000000", "rec-00000003"], ids); // record 1 went with the failed batch
    }

    [Fact]
    public async Task A_store_in_a_folder_that_does_not_exist_creates_it()
    {
        var path = Path.Combine(_db.Folder, "not", "yet", "ledger.db");

        await using var store = await OpenAsync(path);
        await store.WriteBatchAsync(LedgerRecords.Many(1));

        Assert.True(File.Exists(path));
        Assert.Equal(1, await store.CountAsync(LedgerQuery.All));
    }

    [Fact]
    public async Task Disposing_releases_the_file_so_the_last_close_folds_the_wal_back_into_it()
    {
        var store = await OpenAsync();
        await store.WriteBatchAsync(LedgerRecords.Many(3));
        Assert.Equal(3, await store.CountAsync(LedgerQuery.All)); // a pooled read connection is open on the file too
        Assert.True(File.Exists(_db.FilePath + "-wal"));

        await store.DisposeAsync();
        await store.DisposeAsync(); // a second disposal does nothing

        // SQLite checkpoints and deletes the WAL and its index when the last connection to the file closes: they are
        // gone only if the writer and every pooled reader were closed.
        Assert.False(File.Exists(_db.FilePath + "-wal"));
        Assert.False(File.Exists(_db.FilePath + "-shm"));
        using var check = _db.OpenIndependentConnection();
        Assert.Equal(3L, Scalar(check, "SELECT COUNT(*) FROM ledger_records;"));
    }

    private static long Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task PollAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Guard;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold before the deadline");
            await Task.Delay(10);
        }
    }

    /// <summary>Counts log entries and cancels the caller's token at the first: a cancellation between two migration steps.</summary>
    private sealed class CancelOnFirstEntry(CancellationTokenSource cancel) : ILogger<SqliteLedgerStore>
    {
        private int _entries;

        public int Entries => Volatile.Read(ref _entries);

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            Interlocked.Increment(ref _entries);
            cancel.Cancel();
        }
    }
}
