using Microsoft.Data.Sqlite;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// How the SQLite ledger store refuses to be used out of order and what it counts, written from the <c>ledger-sqlite</c>
/// mutation run (docs/testing.md, eighth session): a disposed store refuses every use with
/// <see cref="ObjectDisposedException"/> (not whatever its closed connection throws), a store never migrated refuses
/// every use with the one clear message, an empty batch needs no database at all, the checkpoint's page estimate
/// (one per commit and one per four records) counted exactly, and a failed commit closing its connection so that
/// disposal still releases the file.
/// </summary>
public sealed class SqliteLedgerStoreUseSurvivorTests : IDisposable
{
    // A guard against a hung test, never a wait for something to happen: every wait below is a poll with this deadline.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    private async Task<SqliteLedgerStore> OpenAsync()
    {
        var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        return store;
    }

    /// <summary>Every public use of the store that reads or writes the file, one by one.</summary>
    private static IEnumerable<(string Name, Func<Task> Call)> Uses(SqliteLedgerStore store) =>
    [
        ("WriteBatchAsync", () => store.WriteBatchAsync(LedgerRecords.Many(1, offset: 100))),
        ("GetTotalsAsync", () => store.GetTotalsAsync(LedgerQuery.All)),
        ("CountAsync", () => store.CountAsync(LedgerQuery.All)),
        ("ReadAsync", async () =>
        {
            await foreach (var _ in store.ReadAsync(LedgerQuery.All))
            {
            }
        }),
        ("ReadPageAsync", async () =>
        {
            await foreach (var _ in store.ReadPageAsync(LedgerQuery.All, after: null, limit: 10))
            {
            }
        }),
        ("CorrectEstimatesAsync", () => store.CorrectEstimatesAsync([("rec-00000000", new TokenUsage(InputTokens: 1, OutputTokens: 1))], static _ => null)),
    ];

    [Fact]
    public async Task A_disposed_store_refuses_every_use_with_ObjectDisposedException()
    {
        var store = await OpenAsync();
        await store.WriteBatchAsync(LedgerRecords.Many(2)); // the writer and its prepared insert are open
        await store.DisposeAsync();

        // Its writer connection is closed but still referenced: without the disposed check, a write would fail on the
        // closed connection with another exception, and a read would open a new connection and succeed.
        var wrong = new List<string>();
        foreach (var (name, call) in Uses(store).Prepend(("MigrateAsync", () => store.MigrateAsync())))
        {
            var error = await Record.ExceptionAsync(call);
            if (error is not ObjectDisposedException)
            {
                wrong.Add($"{name}: {error?.GetType().Name ?? "no exception"}");
            }
        }

        Assert.True(wrong.Count == 0, string.Join("; ", wrong)); // every use, each named with what it threw instead

        using var check = _db.OpenIndependentConnection();
        using var command = check.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM ledger_records;";
        Assert.Equal(2L, (long)command.ExecuteScalar()!); // nothing written after the disposal
    }

    [Fact]
    public async Task A_store_never_migrated_refuses_every_use_with_one_clear_message()
    {
        await using (var first = await OpenAsync())
        {
            // The file's tables exist (another process migrated it), but this store instance never checked them.
        }

        await using var store = new SqliteLedgerStore(_db.FilePath);
        var expected = $"The ledger store '{_db.FilePath}' has not been migrated: call MigrateAsync before using it.";
        var wrong = new List<string>();
        foreach (var (name, call) in Uses(store))
        {
            var error = await Record.ExceptionAsync(call);
            if (error is not InvalidOperationException || error.Message != expected)
            {
                wrong.Add($"{name}: {error?.GetType().Name ?? "no exception"} {error?.Message}");
            }
        }

        Assert.True(wrong.Count == 0, string.Join("; ", wrong)); // every use, each named with what it threw instead
    }

    [Fact]
    public async Task An_empty_batch_needs_no_database_so_it_succeeds_on_a_store_never_migrated_and_creates_nothing()
    {
        var folder = Path.Combine(_db.Folder, "never", "opened");
        await using var store = new SqliteLedgerStore(Path.Combine(folder, "ledger.db"));

        await store.WriteBatchAsync([]);
        await store.CommitAsync([], []);

        Assert.False(Directory.Exists(folder)); // the writer connection (which creates the folder) was never opened
    }

    [Fact]
    public async Task The_checkpoint_counts_one_page_per_commit_and_one_per_four_records()
    {
        await using var store = await OpenAsync();

        // Each commit of 12 records counts 1 + 12 / 4 = 4 pages: 249 commits are 996 pages, short of
        // CheckpointAfterPages (1,000), so none is queued (the count is checked synchronously at the end of each commit)...
        const int Batch = 12;
        for (var i = 0; i < 249; i++)
        {
            await store.WriteBatchAsync(LedgerRecords.Many(Batch, offset: i * Batch));
        }

        Assert.Equal(0, store.CheckpointsRun);

        // ...and the 250th brings the count to 1,000: one checkpoint.
        await store.WriteBatchAsync(LedgerRecords.Many(Batch, offset: 249 * Batch));
        await PollAsync(() => store.CheckpointsRun == 1);
        Assert.Equal(250 * Batch, await store.CountAsync(LedgerQuery.All));
    }

    [Fact]
    public async Task A_failed_commit_closes_its_connection_so_disposal_still_releases_the_file()
    {
        var store = await OpenAsync();
        await store.WriteBatchAsync([LedgerRecords.Simple(0)]);
        using (var connection = _db.OpenIndependentConnection())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "CREATE TRIGGER refuse_bad BEFORE INSERT ON ledger_records WHEN NEW.id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;";
            command.ExecuteNonQuery();
        }

        await Assert.ThrowsAnyAsync<SqliteException>(() => store.WriteBatchAsync([LedgerRecords.Simple(2, id: "bad")]));
        await store.WriteBatchAsync([LedgerRecords.Simple(3)]); // on a new writer connection
        await store.DisposeAsync();

        // SQLite deletes the WAL and its index when the last connection to the file closes: the writer the failed
        // commit left must have been closed then, not only forgotten.
        Assert.False(File.Exists(_db.FilePath + "-wal"));
        Assert.False(File.Exists(_db.FilePath + "-shm"));
    }

    [Fact]
    public async Task A_prune_cancelled_between_its_delete_and_its_commit_is_rolled_back()
    {
        await using var store = await OpenAsync();
        await store.WriteBatchAsync(LedgerRecords.Many(3));
        using var cancel = new CancellationTokenSource();

        // The prune reads its rows twice: to bind their ids to the delete, then to check what the delete returned
        // against them (LedgerPruneCheck.Verify, after the delete ran). The caller cancels during that second reading:
        // nothing of the store's own checks the token after it, but before the commit.
        var rows = new CancelOnSecondPass(
            [new("rec-00000000", 0.0000011m), new("rec-00000001", 0.0000011m)], cancel); // LedgerRecords.Simple: input cost only
        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => store.DeleteExportedAsync(rows, LedgerRecords.Start.AddDays(1), cancel.Token));

        Assert.Equal(2, rows.Passes);
        Assert.Equal(3, await store.CountAsync(LedgerQuery.All)); // the two rows deleted in the transaction are back
    }

    [Fact]
    public async Task A_commit_cancelled_while_it_inserts_is_rolled_back_whole()
    {
        await using var store = await OpenAsync();
        using var cancel = new CancellationTokenSource();

        // The batch's rules read each record once before the write; the caller cancels when the insert loop reads the
        // first record again, so only the loop's own check (before each record) can see it.
        var batch = new CancelOnSecondRead(LedgerRecords.Many(3), cancel);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.WriteBatchAsync(batch, cancel.Token));

        Assert.Equal(0, await store.CountAsync(LedgerQuery.All)); // the first record went with the transaction
        await store.WriteBatchAsync(LedgerRecords.Many(3)); // and the writer is still usable
        Assert.Equal(3, await store.CountAsync(LedgerQuery.All));
    }

    [Fact]
    public async Task A_correction_the_database_refuses_fails_loudly_and_changes_nothing()
    {
        await using var store = await OpenAsync();
        await store.WriteBatchAsync([LedgerRecords.Simple(0) with { UsageEstimated = true, Cost = null }]);
        using (var connection = _db.OpenIndependentConnection())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "CREATE TRIGGER refuse_update BEFORE UPDATE ON ledger_records BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;";
            command.ExecuteNonQuery();
        }

        var error = await Assert.ThrowsAnyAsync<SqliteException>(() => store.CorrectEstimatesAsync(
            [("rec-00000000", new TokenUsage(InputTokens: 5, OutputTokens: 1))], static _ => new CostBreakdown(0.5m, 0.25m, 0m, 0m, 0m)));

        Assert.Contains("refused by the test", error.Message, StringComparison.Ordinal);
        Assert.Equal(0m, (await store.GetTotalsAsync(LedgerQuery.All)).TotalCost); // still unpriced, still estimated
        Assert.Equal(1L, (await store.GetTotalsAsync(LedgerQuery.All)).UnpricedCount);
    }

    [Fact]
    public async Task A_file_that_cannot_be_opened_fails_with_sqlites_error()
    {
        var folder = Path.Combine(_db.Folder, "a-folder"); // a folder where the database file should be
        Directory.CreateDirectory(folder);
        await using var store = new SqliteLedgerStore(folder);

        var error = await Assert.ThrowsAsync<SqliteException>(() => store.MigrateAsync());

        Assert.Contains("unable to open database file", error.Message, StringComparison.Ordinal);
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

    /// <summary>Rows to prune that cancel the caller's token when they are read through a second time.</summary>
    private sealed class CancelOnSecondPass(IReadOnlyList<LedgerExportedRow> rows, CancellationTokenSource cancel) : IReadOnlyList<LedgerExportedRow>
    {
        public int Passes { get; private set; }

        public int Count => rows.Count;

        public LedgerExportedRow this[int index] => rows[index];

        public IEnumerator<LedgerExportedRow> GetEnumerator()
        {
            if (++Passes == 2)
            {
                cancel.Cancel();
            }

            return rows.GetEnumerator();
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>A batch that cancels the caller's token when any of its records is read a second time.</summary>
    private sealed class CancelOnSecondRead(IReadOnlyList<LedgerRecord> records, CancellationTokenSource cancel) : IReadOnlyList<LedgerRecord>
    {
        private readonly HashSet<int> _read = [];

        public int Count => records.Count;

        public LedgerRecord this[int index]
        {
            get
            {
                if (!_read.Add(index))
                {
                    cancel.Cancel();
                }

                return records[index];
            }
        }

        public IEnumerator<LedgerRecord> GetEnumerator() => records.GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
