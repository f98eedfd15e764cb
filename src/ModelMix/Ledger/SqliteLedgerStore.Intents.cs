using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Threading;

namespace ModelMix.Ledger;

/// <summary>The attempt intent journal of the SQLite ledger (schema version 6, see <see cref="SqliteLedgerSchema"/>; docs/ledger.md, "Crash consistency").</summary>
public sealed partial class SqliteLedgerStore
{
    private static readonly string MoveIntentSql =
        $"INSERT INTO ledger_records ({SqliteLedgerSchema.SelectColumns}) SELECT {SqliteLedgerSchema.SelectColumns} FROM ledger_intents WHERE id = $id ON CONFLICT (id) DO NOTHING;";

    /// <inheritdoc />
    public async Task WriteIntentsAsync(string instanceId, IReadOnlyList<LedgerIntent> intents, DateTimeOffset? heartbeatAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        ArgumentNullException.ThrowIfNull(intents);
        for (var i = 0; i < intents.Count; i++)
        {
            LedgerRecordRules.RequireFields(intents[i].Fallback, nameof(intents));
        }

        await IoThreads.LeaveAsync(); // the SQLite work below is synchronous (IoThreads.cs)
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            EnsureMigrated();
            var connection = OpenWriter();
            var insert = _insertIntent ??= new SqliteLedgerInsert(connection, SqliteLedgerSchema.InsertIntentSql, extras: 2);
            using var transaction = connection.BeginTransaction(deferred: false);
            if (heartbeatAt is { } at)
            {
                Heartbeat(connection, transaction, instanceId, at);
            }

            for (var i = 0; i < intents.Count; i++)
            {
                insert.Execute(intents[i].Fallback, instanceId, intents[i].ReservationId);
            }

            transaction.Commit();
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
    public async Task<int> ReconcileIntentsAsync(string selfInstanceId, DateTimeOffset at, TimeSpan staleAfter, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(selfInstanceId);
        await IoThreads.LeaveAsync();
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            EnsureMigrated();
            var connection = OpenWriter();
            using var transaction = connection.BeginTransaction(deferred: false);
            var stale = SqliteLedgerSchema.ToStoredTimestamp(at - staleAfter);
            var orphans = new List<(string Id, string? ReservationId, string? Cost, long Tokens)>();
            using (var select = connection.CreateCommand())
            {
                select.Transaction = transaction;
                select.CommandText =
                    """
                    SELECT i.id, i.reservation_id, i.cost_total, i.input_tokens + i.output_tokens
                    FROM ledger_intents i LEFT JOIN ledger_instances n ON n.instance_id = i.instance_id
                    WHERE i.instance_id <> $self AND (n.heartbeat_at IS NULL OR n.heartbeat_at < $stale)
                    ORDER BY i.id;
                    """;
                select.Parameters.AddWithValue("$self", selfInstanceId);
                select.Parameters.AddWithValue("$stale", stale);
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    orphans.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetInt64(3)));
                }
            }

            using var move = connection.CreateCommand();
            move.Transaction = transaction;
            move.CommandText = MoveIntentSql;
            var moved = move.Parameters.Add("$id", SqliteType.Text);
            using var delete = connection.CreateCommand();
            delete.Transaction = transaction;
            delete.CommandText = "DELETE FROM ledger_intents WHERE id = $id;";
            var deleted = delete.Parameters.Add("$id", SqliteType.Text);
            foreach (var (id, reservationId, cost, tokens) in orphans)
            {
                moved.Value = id;
                var inserted = move.ExecuteNonQuery() == 1; // 0: a record with this id is already stored (nothing to charge)
                deleted.Value = id;
                delete.ExecuteNonQuery();
                if (inserted && reservationId is not null)
                {
                    // An unpriced estimate with tokens charges the whole hold, as settling does.
                    long? nanos = cost is null ? (tokens > 0 ? null : 0) : BudgetMoney.ToNanos(SqliteLedgerSchema.FromStoredDecimal(cost));
                    SqliteBudgetStore.ChargeReclaimed(connection, transaction, reservationId, nanos);
                }
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

    private static void Heartbeat(SqliteConnection connection, SqliteTransaction transaction, string instanceId, DateTimeOffset at)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO ledger_instances (instance_id, heartbeat_at) VALUES ($i, $at) ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = MAX(heartbeat_at, excluded.heartbeat_at);";
        command.Parameters.AddWithValue("$i", instanceId);
        command.Parameters.AddWithValue("$at", SqliteLedgerSchema.ToStoredTimestamp(at));
        command.ExecuteNonQuery();
    }

    private static SqliteCommand PrepareCompleteIntent(SqliteConnection connection)
    {
        var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM ledger_intents WHERE id = $id;";
        command.Parameters.Add("$id", SqliteType.Text);
        command.Prepare();
        return command;
    }
}
