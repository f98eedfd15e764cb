using Microsoft.Data.Sqlite;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The SQLite ledger store's writes hand a calling thread that is not the pool's back at once (<c>IoThreads.LeaveAsync</c>
/// at the top of <c>MigrateAsync</c>, <c>CommitAsync</c> and the write transaction of corrections and prunes), written
/// from the <c>ledger-sqlite</c> mutation run (docs/testing.md, eighth session): <c>IoThreadsTests</c> checks the
/// budget store only, so removing any of these hops left every test green. Each test holds the file's write lock from
/// another connection and calls the store from a dedicated thread: handed off, the call returns at once with a task
/// still waiting for the lock; done in place, it returns only after SQLite's busy timeout (5 s), with a finished (failed)
/// task. Not deterministic for the reads: they do not wait on the write lock in WAL mode, and their hop before
/// <c>OpenReaderAsync</c>'s own matters only when the pool finishes that callee before the caller looks (listed as a
/// survivor in docs/testing.md).
/// </summary>
public sealed class SqliteLedgerStoreThreadSurvivorTests : IDisposable
{
    // A guard against a hung test, never a wait for something to happen.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private readonly TempDatabase _db = new();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _db.Dispose();
    }

    [Fact]
    public async Task A_migration_waiting_on_the_file_lock_does_not_block_the_calling_thread()
    {
        await using (var earlier = new SqliteLedgerStore(_db.FilePath))
        {
            await earlier.MigrateAsync(); // the file is in WAL mode and up to date: the next migration only checks it
        }

        await using var store = new SqliteLedgerStore(_db.FilePath);
        await WhileLockedAsync("MigrateAsync", () => store.MigrateAsync());

        Assert.Equal(0, await store.CountAsync(LedgerQuery.All));
    }

    [Fact]
    public async Task A_commit_waiting_on_the_file_lock_does_not_block_the_calling_thread()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteBatchAsync(LedgerRecords.Many(1)); // the writer connection and its insert are open

        await WhileLockedAsync("WriteBatchAsync", () => store.WriteBatchAsync(LedgerRecords.Many(2, offset: 1)));

        Assert.Equal(3, await store.CountAsync(LedgerQuery.All));
    }

    [Fact]
    public async Task A_correction_waiting_on_the_file_lock_does_not_block_the_calling_thread()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteBatchAsync([LedgerRecords.Simple(0) with { UsageEstimated = true, Cost = null }]);

        // Repriced at a cost the test names: the stored row shows the correction was committed once the lock was free.
        var corrected = new CostBreakdown(0.5m, 0.25m, 0m, 0m, 0m);
        Task<int>? correction = null;
        await WhileLockedAsync("CorrectEstimatesAsync", () => correction = store.CorrectEstimatesAsync(
            [("rec-00000000", new TokenUsage(InputTokens: 5, OutputTokens: 1))], _ => corrected));

        Assert.Equal(1, await correction!);
        Assert.Equal(0.75m, (await store.GetTotalsAsync(LedgerQuery.All)).TotalCost); // 0.5 input + 0.25 output
    }

    /// <summary>
    /// Holds the file's write lock from another connection, calls <paramref name="call"/> from a dedicated thread, and
    /// asserts the call returned with its task unfinished (the lock is released only after that check); then lets it
    /// finish, and it must succeed.
    /// </summary>
    private async Task WhileLockedAsync(string name, Func<Task> call)
    {
        using var other = _db.OpenIndependentConnection();
        Execute(other, "BEGIN IMMEDIATE;");

        Task? task = null;
        var finishedOnReturn = false;
        using var returned = new ManualResetEventSlim();
        var caller = new Thread(() =>
        {
            task = call();
            finishedOnReturn = task.IsCompleted; // read on the caller's thread the instant the call returns
            returned.Set();
        }) { IsBackground = true };
        caller.Start();

        Assert.True(returned.Wait(Guard), $"{name} did not return within {Guard}.");
        Assert.False(finishedOnReturn, $"{name} blocked its calling thread while the file was locked: its task had finished when it returned.");

        Execute(other, "COMMIT;");
        await task!.WaitAsync(Guard);
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
