using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Threading;

namespace ModelMix.Ledger;

/// <summary>The attempt intent journal of the SQLite ledger (schema step 8, see <see cref="SqliteLedgerSchema"/>; docs/ledger.md, "Crash consistency").</summary>
public sealed partial class SqliteLedgerStore
{
    /// <inheritdoc />
    /// <remarks>
    /// When the writer is free, the transaction runs at once on the calling thread — even a socket event thread — with
    /// SQLite's busy timeout at zero for it, so it never waits on a lock there (IoThreads.cs): a request's intent then
    /// costs no thread hop. Otherwise (the writer busy, SQLite's write lock held by another connection, a heartbeat to
    /// write, the first transaction) it goes the usual way: off I/O threads, waiting its turn.
    /// </remarks>
    public Task WriteIntentsAsync(string instanceId, IReadOnlyList<LedgerIntent> intents, DateTimeOffset? heartbeatAt, CancellationToken cancellationToken = default)
    {
        try
        {
            ArgumentException.ThrowIfNullOrEmpty(instanceId);
            ArgumentNullException.ThrowIfNull(intents);
            for (var i = 0; i < intents.Count; i++)
            {
                SqliteIntentInsert.RequireFields(intents[i], nameof(intents));
            }
        }
        catch (ArgumentException exception)
        {
            return Task.FromException(exception);
        }

        if (heartbeatAt is null && !cancellationToken.IsCancellationRequested && TryWriteIntentsNow(instanceId, intents, out var failure))
        {
            return failure is null ? Task.CompletedTask : Task.FromException(failure);
        }

        return WriteIntentsQueuedAsync(instanceId, intents, heartbeatAt, cancellationToken);
    }

    /// <summary>
    /// The fast path of <see cref="WriteIntentsAsync"/>: false when it could not start at once (the caller takes the
    /// queued path; nothing was written); true when it ran, <paramref name="failure"/> saying how it ended.
    /// </summary>
    private bool TryWriteIntentsNow(string instanceId, IReadOnlyList<LedgerIntent> intents, out Exception? failure)
    {
        failure = null;
        if (!_writeLock.Wait(0))
        {
            return false;
        }

        try
        {
            if (_disposed || !_migrated || _writer?.Handle is not { } db || _insertIntent is not { } insert)
            {
                return false; // the first transaction opens the writer on the queued path
            }

            SQLitePCL.raw.sqlite3_busy_timeout(db, 0);
            bool begun;
            try
            {
                begun = insert.TryBegin();
            }
            finally
            {
                SQLitePCL.raw.sqlite3_busy_timeout(db, (int)BusyTimeout.TotalMilliseconds);
            }

            if (!begun)
            {
                return false; // another connection writes: wait for it on the queued path
            }

            InsertAndCommit(insert, _writer, instanceId, intents, heartbeatAt: null);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            ResetWriter();
            failure = ex;
        }
        finally
        {
            _writeLock.Release();
        }

        CheckpointSoon();
        return true;
    }

    /// <summary>
    /// The body of both paths' intent transaction, which <paramref name="insert"/>'s <c>Begin</c>/<c>TryBegin</c> started:
    /// the heartbeat (if any) and the intents, then the commit; rolled back if any of it throws.
    /// </summary>
    private void InsertAndCommit(SqliteIntentInsert insert, SqliteConnection connection, string instanceId, IReadOnlyList<LedgerIntent> intents, DateTimeOffset? heartbeatAt)
    {
        try
        {
            if (heartbeatAt is { } at)
            {
                Heartbeat(connection, transaction: null, instanceId, at);
            }

            for (var i = 0; i < intents.Count; i++)
            {
                insert.Execute(intents[i], instanceId);
            }

            insert.Commit();
        }
        catch
        {
            insert.Rollback();
            throw;
        }

        NoteCommitted();
    }

    private async Task WriteIntentsQueuedAsync(string instanceId, IReadOnlyList<LedgerIntent> intents, DateTimeOffset? heartbeatAt, CancellationToken cancellationToken)
    {
        await IoThreads.LeaveAsync(); // the SQLite work below is synchronous (IoThreads.cs)
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            EnsureMigrated();
            var connection = OpenWriter();
            var insert = _insertIntent ??= new SqliteIntentInsert(connection);
            insert.Begin(); // prepared BEGIN IMMEDIATE/COMMIT: nothing prepared or allocated per transaction
            InsertAndCommit(insert, connection, instanceId, intents, heartbeatAt);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not ObjectDisposedException)
        {
            ResetWriter();
            throw;
        }
        finally
        {
            _writeLock.Release();
        }

        CheckpointSoon(); // after a crowd of small commits (checkpoints run off the hot path: SqliteLedgerStore.Checkpoints.cs)
    }

    /// <inheritdoc />
    public async Task HeartbeatAsync(string instanceId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        await IoThreads.LeaveAsync();
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            EnsureMigrated();
            var connection = OpenWriter();
            using var transaction = connection.BeginTransaction(deferred: false);
            Heartbeat(connection, transaction, instanceId, at);
            transaction.Commit();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc />
    public async Task<int> ReconcileIntentsAsync(string selfInstanceId, DateTimeOffset at, TimeSpan staleAfter, Func<LedgerRecord, LedgerRecord> price, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(selfInstanceId);
        ArgumentNullException.ThrowIfNull(price);
        await IoThreads.LeaveAsync();
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            EnsureMigrated();
            var connection = OpenWriter();
            var insert = _insert ??= new SqliteLedgerInsert(connection);
            using var transaction = connection.BeginTransaction(deferred: false);
            var stale = SqliteLedgerSchema.ToStoredTimestamp(at - staleAfter);
            var orphans = new List<LedgerIntent>();
            using (var select = connection.CreateCommand())
            {
                select.Transaction = transaction;
                select.CommandText =
                    $"""
                    SELECT {SqliteIntentInsert.QualifiedColumns}
                    FROM ledger_intents i LEFT JOIN ledger_instances n ON n.instance_id = i.instance_id
                    WHERE i.instance_id <> $self AND (n.heartbeat_at IS NULL OR n.heartbeat_at < $stale)
                    ORDER BY i.id;
                    """;
                select.Parameters.AddWithValue("$self", selfInstanceId);
                select.Parameters.AddWithValue("$stale", stale);
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    orphans.Add(SqliteIntentInsert.Read(reader));
                }
            }

            using var delete = connection.CreateCommand();
            delete.Transaction = transaction;
            delete.CommandText = "DELETE FROM ledger_intents WHERE id = $id;";
            var deleted = delete.Parameters.Add("$id", SqliteType.Text);
            insert.StartBatch();
            foreach (var intent in orphans)
            {
                // Built and priced now, at the price in force when the attempt started.
                var record = price(intent.ToOutcomeUnknownRecord());
                var inserted = insert.Execute(record); // false: a record with this id is already stored (nothing to charge)
                deleted.Value = intent.Id;
                delete.ExecuteNonQuery();
                if (inserted && intent.ReservationId is not null)
                {
                    // An unpriced estimate with tokens charges the whole hold, as settling does.
                    long? nanos = record.Cost is { } cost ? BudgetMoney.ToNanos(cost.Total) : record.Usage.InputTokens + record.Usage.OutputTokens > 0 ? null : 0;
                    SqliteBudgetStore.ChargeReclaimed(connection, transaction, intent.ReservationId, nanos);
                }
            }

            // The rows reconciled are rolled up like any batch's (docs/ledger.md, "Rollups").
            SqliteLedgerRollups.AddInserted(connection, transaction, insert.FirstInsertedSeq);

            using (var forget = connection.CreateCommand())
            {
                // Dead instances with nothing left to reconcile are forgotten.
                forget.Transaction = transaction;
                forget.CommandText = "DELETE FROM ledger_instances WHERE heartbeat_at < $stale AND instance_id NOT IN (SELECT instance_id FROM ledger_intents);";
                forget.Parameters.AddWithValue("$stale", stale);
                forget.ExecuteNonQuery();
            }

            transaction.Commit();
            return orphans.Count;
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not ObjectDisposedException)
        {
            ResetWriter();
            throw;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc />
    public async Task<long> CountIntentsAsync(CancellationToken cancellationToken = default)
    {
        EnsureReadable();
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM ledger_intents;";
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static void Heartbeat(SqliteConnection connection, SqliteTransaction? transaction, string instanceId, DateTimeOffset at)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO ledger_instances (instance_id, heartbeat_at) VALUES ($i, $at) ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = MAX(heartbeat_at, excluded.heartbeat_at);";
        command.Parameters.AddWithValue("$i", instanceId);
        command.Parameters.AddWithValue("$at", SqliteLedgerSchema.ToStoredTimestamp(at));
        command.ExecuteNonQuery();
    }
}
