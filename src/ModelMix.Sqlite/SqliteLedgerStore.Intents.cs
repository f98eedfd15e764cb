using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Threading;

namespace ModelMix.Ledger;

/// <summary>
/// The attempt intent journal of the SQLite ledger (docs/ledger.md, "Crash consistency"): intents in append-only segment
/// files (<see cref="SqliteIntentFiles"/>), heartbeats in <c>ledger_instances</c>; the <c>ledger_intents</c> table (schema
/// step 8) is only read, for intents an earlier version wrote.
/// </summary>
public sealed partial class SqliteLedgerStore
{
    private SqliteIntentFiles? _intentFiles;

    /// <inheritdoc />
    /// <remarks>
    /// The intents go to this instance's append-only segment file (<see cref="SqliteIntentFiles"/>) in one
    /// <c>write()</c> on the calling thread — even a socket event thread: it never waits on SQLite's locks, and is in the
    /// OS when this returns (as a WAL commit with <c>synchronous=NORMAL</c> is). With <paramref name="heartbeatAt"/>, the
    /// heartbeat is committed to the database first (so no segment exists without its instance's heartbeat).
    /// </remarks>
    public Task WriteIntentsAsync(string instanceId, IReadOnlyList<LedgerIntent> intents, DateTimeOffset? heartbeatAt, CancellationToken cancellationToken = default)
    {
        try
        {
            LedgerIntentRows.RequireAll(instanceId, intents);

            if (heartbeatAt is { } at)
            {
                return HeartbeatThenAppendAsync(instanceId, intents, at, cancellationToken);
            }

            cancellationToken.ThrowIfCancellationRequested();
            ObjectDisposedException.ThrowIf(_disposed, this);
            IntentFiles.Append(instanceId, intents);
            return Task.CompletedTask;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            return Task.FromException(exception);
        }
    }

    /// <summary>The intent journal's files (created on first use).</summary>
    internal SqliteIntentFiles IntentFiles => LazyInitializer.EnsureInitialized(ref _intentFiles, () => new SqliteIntentFiles(Path, _logger));

    private async Task HeartbeatThenAppendAsync(string instanceId, IReadOnlyList<LedgerIntent> intents, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await HeartbeatAsync(instanceId, at, cancellationToken);
        ObjectDisposedException.ThrowIf(_disposed, this);
        IntentFiles.Append(instanceId, intents);
    }

    /// <inheritdoc />
    public async Task HeartbeatAsync(string instanceId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        await IoThreads.LeaveAsync();
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            var connection = OpenCheckedWriter();
            using var transaction = connection.BeginTransaction(deferred: false);
            Heartbeat(connection, transaction, instanceId, at);
            transaction.Commit();
        }
        finally
        {
            _writeLock.Release();
        }

        // A sweep may have taken this instance's segments while its heartbeat was stale: its pending intents are
        // written again (after the heartbeat, so no sweep now counts it dead).
        _intentFiles?.Recover(instanceId);
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
            var connection = OpenCheckedWriter();
            var insert = _insert ??= new SqliteLedgerInsert(connection);
            using var transaction = connection.BeginTransaction(deferred: false);
            var stale = SqliteLedgerSchema.ToStoredTimestamp(at - staleAfter);
            var orphans = new List<LedgerIntent>();
            using (var select = connection.CreateCommand())
            {
                select.Transaction = transaction;
                select.CommandText =
                    $"""
                    SELECT {LedgerIntentRows.QualifiedColumns}
                    FROM ledger_intents i LEFT JOIN ledger_instances n ON n.instance_id = i.instance_id
                    WHERE i.instance_id <> $self AND (n.heartbeat_at IS NULL OR n.heartbeat_at < $stale)
                    ORDER BY i.id;
                    """;
                select.Parameters.AddWithValue("$self", selfInstanceId);
                select.Parameters.AddWithValue("$stale", stale);
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    orphans.Add(LedgerIntentRows.Read(reader));
                }
            }

            // The segment files of dead instances (SqliteIntentFiles), renamed in this transaction so their owner, should it
            // still live, notices at its next heartbeat and writes its pending intents again.
            var taken = TakeDeadSegments(connection, transaction, selfInstanceId, stale);
            var fromFiles = new List<LedgerIntent>();
            foreach (var path in taken)
            {
                fromFiles.AddRange(SqliteIntentFiles.Read(path));
            }

            using var delete = connection.CreateCommand();
            delete.Transaction = transaction;
            delete.CommandText = "DELETE FROM ledger_intents WHERE id = $id;";
            var deleted = delete.Parameters.Add("$id", SqliteType.Text);
            insert.StartBatch();
            var reconciled = new List<(LedgerRecord Record, string ReservationId)>(); // inserted records with a hold, charged after the rollups
            foreach (var intent in orphans)
            {
                // Built and priced now, at the price in force when the attempt started.
                var record = price(intent.ToOutcomeUnknownRecord());
                var inserted = insert.Execute(record); // false: a record with this id is already stored (nothing to charge)
                deleted.Value = intent.Id;
                delete.ExecuteNonQuery();
                if (inserted && intent.ReservationId is not null)
                {
                    reconciled.Add((record, intent.ReservationId));
                }
            }

            // A segment holds every intent of its instance, completed or not: one whose record is stored is skipped.
            var fromFilesReconciled = 0;
            foreach (var intent in fromFiles)
            {
                var record = price(intent.ToOutcomeUnknownRecord());
                if (insert.Execute(record))
                {
                    fromFilesReconciled++;
                    if (intent.ReservationId is not null)
                    {
                        reconciled.Add((record, intent.ReservationId));
                    }
                }
            }

            // The rows reconciled are rolled up like any batch's (docs/ledger.md, "Rollups").
            insert.WriteRollups();

            // Charged to their holds under the overrun rule, after the rollups (an overrun booked on a row updates its
            // rollups through the overrun trigger, which needs them written).
            var booked = new List<BudgetOverrunBooked>();
            if (reconciled.Count > 0)
            {
                SqliteBudgetStore.ChargeReconciled(connection, transaction, reconciled, booked);
            }

            using (var forget = connection.CreateCommand())
            {
                // Dead instances with nothing left to reconcile are forgotten.
                forget.Transaction = transaction;
                forget.CommandText = "DELETE FROM ledger_instances WHERE heartbeat_at < $stale AND instance_id NOT IN (SELECT instance_id FROM ledger_intents);";
                forget.Parameters.AddWithValue("$stale", stale);
                forget.ExecuteNonQuery();
            }

            transaction.Commit();
            BudgetOverrunMetrics.Report(booked);
            foreach (var path in taken)
            {
                DeleteQuietly(path);
            }

            return orphans.Count + fromFilesReconciled;
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
    /// <remarks>The table's intents and those in segment files without a stored record (<see cref="PendingIntentsAsync"/>).</remarks>
    public async Task<long> CountIntentsAsync(CancellationToken cancellationToken = default) =>
        (await PendingIntentsAsync(cancellationToken)).Count;

    /// <summary>
    /// The pending intents of every instance: the table's, and those in segment files (any instance's, live or dead,
    /// taken by a sweep or not) whose record is not stored. For tests and tools; it reads every segment.
    /// </summary>
    internal async Task<List<(string InstanceId, LedgerIntent Intent)>> PendingIntentsAsync(CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        EnsureReadable();
        var pending = new List<(string InstanceId, LedgerIntent Intent)>();
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using (var table = connection.CreateCommand())
        {
            table.CommandText = $"SELECT {LedgerIntentRows.QualifiedColumns} FROM ledger_intents i ORDER BY i.id;";
            await using var reader = await table.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                pending.Add((reader.GetString(2), LedgerIntentRows.Read(reader)));
            }
        }

        await using var stored = connection.CreateCommand();
        stored.CommandText = "SELECT EXISTS (SELECT 1 FROM ledger_records WHERE id = $id);";
        var id = stored.Parameters.Add("$id", SqliteType.Text);
        var seen = new HashSet<string>(pending.Select(p => p.Intent.Id), StringComparer.Ordinal);
        foreach (var (path, instanceId, _) in IntentFiles.ListSegments())
        {
            foreach (var intent in SqliteIntentFiles.Read(path))
            {
                id.Value = intent.Id;
                if (seen.Add(intent.Id) && (long)(await stored.ExecuteScalarAsync(cancellationToken))! == 0)
                {
                    pending.Add((instanceId, intent));
                }
            }
        }

        return pending;
    }

    /// <summary>
    /// In the reconciling transaction: renames the segments of every dead instance (no heartbeat, or one older than
    /// <paramref name="stale"/>; never <paramref name="selfInstanceId"/>) to <c>.reconciling</c>, and returns those
    /// with the ones an earlier sweep took and did not delete (it may have died before its commit).
    /// </summary>
    private List<string> TakeDeadSegments(SqliteConnection connection, SqliteTransaction transaction, string selfInstanceId, long stale)
    {
        var taken = new List<string>();
        var dead = new Dictionary<string, bool>(StringComparer.Ordinal);
        using var beat = connection.CreateCommand();
        beat.Transaction = transaction;
        beat.CommandText = "SELECT heartbeat_at FROM ledger_instances WHERE instance_id = $i;";
        var instance = beat.Parameters.Add("$i", SqliteType.Text);
        foreach (var (path, instanceId, wasTaken) in IntentFiles.ListSegments())
        {
            if (wasTaken)
            {
                taken.Add(path);
                continue;
            }

            if (string.Equals(instanceId, selfInstanceId, StringComparison.Ordinal))
            {
                continue;
            }

            if (!dead.TryGetValue(instanceId, out var isDead))
            {
                instance.Value = instanceId;
                isDead = beat.ExecuteScalar() is not long at || at < stale;
                dead.Add(instanceId, isDead);
            }

            if (isDead)
            {
                var to = path[..^SqliteIntentFiles.SegmentSuffix.Length] + SqliteIntentFiles.TakenSuffix;
                try
                {
                    File.Move(path, to, overwrite: true);
                    taken.Add(to);
                }
                catch (FileNotFoundException)
                {
                    // Deleted meanwhile by its owner: all its intents had their records.
                }
            }
        }

        return taken;
    }

    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The next sweep reconciles it again (idempotent) and deletes it.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }
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
