using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ModelMix.Ledger;

/// <summary>
/// WAL checkpoints off the request path (docs/performance.md, "Attempt intent journal: where the cost went"). With
/// SQLite's default, the commit that takes the WAL past 1,000 pages copies the WAL into the database and syncs both
/// files, inside that commit. With the attempt intent journal most commits are one request's intent, so that request
/// would pay the copy and two fsyncs before its dispatch — on a socket event thread, when its intent commits there
/// (<see cref="WriteIntentsAsync"/>). So the writer connection turns automatic checkpoints off
/// (<c>PRAGMA wal_autocheckpoint = 0</c>) and this store runs the same checkpoint on a pool thread, holding the writer
/// lock as SQLite's own would (so it copies every frame and the next commit restarts the WAL), once its commits have
/// written about as much as SQLite's default waits for. Durability is unchanged: a commit is in the WAL (the OS has
/// it) before it returns, as before.
/// </summary>
public sealed partial class SqliteLedgerStore
{
    /// <summary>Roughly how many WAL pages this store's commits write before it checkpoints (SQLite's own default: 1,000).</summary>
    internal const int CheckpointAfterPages = 1_000;

    private int _pagesSinceCheckpoint; // an estimate: one per intent commit, one per four records of a batch
    private int _checkpointing; // 1 while a checkpoint is queued or runs

    /// <summary>How many checkpoints this store has run off the request path (tests).</summary>
    internal int CheckpointsRun { get; private set; }

    /// <summary>Counts a commit's pages towards the next checkpoint.</summary>
    private void NoteCommitted(int pages = 1) => Interlocked.Add(ref _pagesSinceCheckpoint, pages);

    /// <summary>Queues a checkpoint on a pool thread once enough has been written since the last; at most one at a time.</summary>
    private void CheckpointSoon()
    {
        if (Volatile.Read(ref _pagesSinceCheckpoint) < CheckpointAfterPages || Interlocked.CompareExchange(ref _checkpointing, 1, 0) != 0)
        {
            return;
        }

        _ = Task.Run(CheckpointAsync);
    }

    private async Task CheckpointAsync()
    {
        try
        {
            await _writeLock.WaitAsync();
            try
            {
                Interlocked.Exchange(ref _pagesSinceCheckpoint, 0);
                if (_disposed || _writer?.Handle is not { } db)
                {
                    return;
                }

                // PASSIVE on the writer, under its lock: nothing of this store writes meanwhile, so it copies every
                // frame (unless a reader still needs one) and the next commit starts the WAL over.
                var rc = raw.sqlite3_wal_checkpoint_v2(db, "main", raw.SQLITE_CHECKPOINT_PASSIVE, out _, out _);
                if (rc is not raw.SQLITE_OK and not raw.SQLITE_BUSY)
                {
                    SqliteException.ThrowExceptionForRC(rc, db);
                }

                CheckpointsRun++;
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // A failed checkpoint loses nothing (the WAL keeps the commits); the next one tries again.
            LedgerLog.CheckpointFailed(_logger, Path, exception);
        }
        finally
        {
            Volatile.Write(ref _checkpointing, 0);
        }
    }
}
