using Microsoft.Data.Sqlite;
using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The SQLite intent commit on the hot path (docs/performance.md, "Attempt intent journal: where the cost went"): it
/// commits at once on the caller's thread when the writer is free, never waits there for a lock another connection
/// holds (it goes the queued way instead), and WAL checkpoints run off it yet still run.
/// </summary>
public sealed class IntentHotPathTests : IDisposable
{
    private static readonly DateTimeOffset Started = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly TempDatabase _db = new();
    private int _next;

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task An_intent_commits_before_the_call_returns_when_the_writer_is_free()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteIntentsAsync("me", [NextIntent()], Started); // opens the writer (and writes the heartbeat)

        // From a thread outside the pool, as a socket event thread: no hop to the pool, the commit is done on return.
        // (Read on that thread the instant the call returns: a hop to the pool would still be committing.)
        var doneOnReturn = false;
        var caller = new Thread(() => doneOnReturn = store.WriteIntentsAsync("me", [NextIntent()], heartbeatAt: null).IsCompletedSuccessfully);
        caller.Start();
        caller.Join();

        Assert.True(doneOnReturn);
        Assert.Equal(2, CountIntentsIndependently());
    }

    [Fact]
    public async Task An_intent_never_waits_on_the_callers_thread_for_another_connections_write_lock()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteIntentsAsync("me", [NextIntent()], Started);
        using var other = _db.OpenIndependentConnection();
        using (var begin = other.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE;"; // another connection (a key store, another process) holds the write lock
            begin.ExecuteNonQuery();
        }

        // Called from a thread outside the pool, as a socket event thread is: with SQLite's 5 s busy timeout in force
        // the call would block that thread until the lock is free (then fail); it must return at once, still pending.
        Task? write = null;
        var caller = new Thread(() => write = store.WriteIntentsAsync("me", [NextIntent()], heartbeatAt: null));
        caller.Start();
        caller.Join();
        Assert.NotNull(write);
        Assert.False(write.IsCompleted);

        using (var commit = other.CreateCommand())
        {
            commit.CommandText = "COMMIT;";
            commit.ExecuteNonQuery();
        }

        await write.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, CountIntentsIndependently());
    }

    [Fact]
    public async Task Checkpoints_run_off_the_intent_commits_and_keep_the_wal_short()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteIntentsAsync("me", [NextIntent()], Started);

        // One intent per transaction, as at low concurrency: each commit appends at least one page to the WAL. The
        // writer connection never checkpoints by itself; the store's own checkpoint must.
        for (var i = 0; i < SqliteLedgerStore.CheckpointAfterPages + 100; i++)
        {
            await store.WriteIntentsAsync("me", [NextIntent()], heartbeatAt: null);
        }

        await WaitUntilAsync(() => store.CheckpointsRun >= 1);
        await store.WriteIntentsAsync("me", [NextIntent()], heartbeatAt: null); // restarts the WAL once it is copied

        // Frames in the WAL now: a handful if it was checkpointed and restarted; over a thousand if nothing checkpointed.
        using var reader = _db.OpenIndependentConnection();
        using var check = reader.CreateCommand();
        check.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
        using var result = check.ExecuteReader();
        Assert.True(result.Read());
        var framesInWal = result.GetInt64(1);
        Assert.InRange(framesInWal, 0, SqliteLedgerStore.CheckpointAfterPages / 2);
        Assert.Equal(SqliteLedgerStore.CheckpointAfterPages + 102, CountIntentsIndependently());
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the condition");
            await Task.Delay(20);
        }
    }

    private long CountIntentsIndependently()
    {
        using var connection = _db.OpenIndependentConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM ledger_intents;";
        return (long)command.ExecuteScalar()!;
    }

    private LedgerIntent NextIntent()
    {
        var n = ++_next;
        var at = Started.AddMilliseconds(n);
        return new LedgerIntent
        {
            Id = LedgerIds.New(at),
            CreatedAt = at,
            RequestId = "req-" + n.ToString(System.Globalization.CultureInfo.InvariantCulture),
            RequestedModel = "auto",
            RoutedModel = "claude-haiku-4-5",
            InputTokens = 100,
            OutputTokens = 1_024,
        };
    }
}
