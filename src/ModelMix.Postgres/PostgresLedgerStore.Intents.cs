using ModelMix.Ledger;
using Npgsql;
using NpgsqlTypes;

namespace ModelMix.Postgres;

/// <summary>The attempt intent journal of the PostgreSQL ledger (schema steps 5 and 7; docs/ledger.md, "Crash consistency").</summary>
public sealed partial class PostgresLedgerStore
{
    private const string CompleteIntents = "DELETE FROM ledger_intents USING ledger_batch WHERE ledger_intents.id = ledger_batch.id;";

    private const string HeartbeatSql =
        "INSERT INTO ledger_instances (instance_id, heartbeat_at) VALUES ($1, $2) ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = GREATEST(ledger_instances.heartbeat_at, excluded.heartbeat_at);";

    private const string CopyIntents = $"COPY ledger_intents ({SqliteLedgerSchema.IntentColumns}) FROM STDIN (FORMAT BINARY)";

    /// <inheritdoc />
    public async Task WriteIntentsAsync(string instanceId, IReadOnlyList<LedgerIntent> intents, DateTimeOffset? heartbeatAt, CancellationToken cancellationToken = default)
    {
        LedgerIntentRows.RequireAll(instanceId, intents);

        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        // Without a heartbeat the COPY is the only statement, atomic on its own: no BEGIN/COMMIT round trip.
        await using var transaction = heartbeatAt is null ? null : await connection.BeginTransactionAsync(cancellationToken);
        if (heartbeatAt is { } at)
        {
            await HeartbeatCoreAsync(connection, transaction, instanceId, at, cancellationToken);
        }

        await using (var importer = await connection.BeginBinaryImportAsync(CopyIntents, cancellationToken))
        {
            for (var i = 0; i < intents.Count; i++)
            {
                await WriteIntentAsync(importer, intents[i], instanceId, cancellationToken);
            }

            await importer.CompleteAsync(cancellationToken);
        }

        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task HeartbeatAsync(string instanceId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await HeartbeatCoreAsync(connection, null, instanceId, at, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<int> ReconcileIntentsAsync(string selfInstanceId, DateTimeOffset at, TimeSpan staleAfter, Func<LedgerRecord, LedgerRecord> price, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(selfInstanceId);
        ArgumentNullException.ThrowIfNull(price);
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // SKIP LOCKED: intents another replica is reconciling right now are left to it, so two sweeps never move one twice.
        var intents = new List<LedgerIntent>();
        await using (var select = new NpgsqlCommand(
            $"""
            SELECT {LedgerIntentRows.QualifiedColumns} FROM ledger_intents i LEFT JOIN ledger_instances n ON n.instance_id = i.instance_id
            WHERE i.instance_id <> $1 AND (n.heartbeat_at IS NULL OR n.heartbeat_at < $2)
            ORDER BY i.id FOR UPDATE OF i SKIP LOCKED;
            """, connection, transaction))
        {
            select.Parameters.Add(new NpgsqlParameter { Value = selfInstanceId });
            select.Parameters.Add(new NpgsqlParameter { Value = SqliteLedgerSchema.ToStoredTimestamp(at - staleAfter) });
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                intents.Add(LedgerIntentRows.Read(reader));
            }
        }

        List<Budgets.BudgetOverrunBooked>? booked = null;
        if (intents.Count > 0)
        {
            // Built and priced now, at the price in force when each attempt started.
            var records = intents.ConvertAll(intent => price(intent.ToOutcomeUnknownRecord()));
            var ids = intents.ConvertAll(intent => intent.Id).ToArray();
            await EnsurePartitionsAsync(records.Select(record => SqliteLedgerSchema.ToStoredTimestamp(record.Timestamp)), cancellationToken); // months of the moved rows (Partitions.cs)

            // A record already stored under an intent's id is skipped by the move and charged nothing (it cannot be
            // written meanwhile: its process is dead, and the intents are locked by this transaction).
            var stored = new HashSet<string>(StringComparer.Ordinal);
            await using (var existing = new NpgsqlCommand("SELECT id FROM ledger_records WHERE id = ANY($1);", connection, transaction))
            {
                existing.Parameters.Add(new NpgsqlParameter { Value = ids });
                await using var reader = await existing.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    stored.Add(reader.GetString(0));
                }
            }

            // The batch path: COPY into the temporary table, one move that also rolls the inserted rows up.
            await PostgresDatabase.ExecuteAsync(connection, transaction, CreateBatchTable, cancellationToken);
            await using (var importer = await connection.BeginBinaryImportAsync(CopyBatch, cancellationToken))
            {
                for (var i = 0; i < records.Count; i++)
                {
                    await WriteRowAsync(importer, i, records[i], cancellationToken);
                }

                await importer.CompleteAsync(cancellationToken);
            }

            await PostgresDatabase.ExecuteAsync(connection, transaction, MoveBatchWithRollups, cancellationToken);
            await PostgresDatabase.ExecuteAsync(connection, transaction, CompleteIntents, cancellationToken);

            // Moved records with a hold: charged to it under the overrun rule (PostgresBudgetStore.ChargeReconciledAsync), in order.
            var reconciled = new List<(LedgerRecord Record, string ReservationId)>();
            for (var i = 0; i < records.Count; i++)
            {
                if (intents[i].ReservationId is { } reservationId && !stored.Contains(records[i].Id))
                {
                    reconciled.Add((records[i], reservationId));
                }
            }

            booked = await PostgresBudgetStore.ChargeReconciledAsync(connection, transaction, reconciled, cancellationToken);
        }

        await using (var forget = new NpgsqlCommand(
            "DELETE FROM ledger_instances n WHERE n.heartbeat_at < $1 AND NOT EXISTS (SELECT 1 FROM ledger_intents i WHERE i.instance_id = n.instance_id);", connection, transaction))
        {
            forget.Parameters.Add(new NpgsqlParameter { Value = SqliteLedgerSchema.ToStoredTimestamp(at - staleAfter) });
            await forget.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        Budgets.BudgetOverrunMetrics.Report(booked);
        return intents.Count;
    }

    /// <inheritdoc />
    public async Task<long> CountIntentsAsync(CancellationToken cancellationToken = default)
    {
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM ledger_intents;", connection);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task HeartbeatCoreAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string instanceId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(HeartbeatSql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = instanceId });
        command.Parameters.Add(new NpgsqlParameter { Value = SqliteLedgerSchema.ToStoredTimestamp(at) });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task WriteIntentAsync(NpgsqlBinaryImporter importer, LedgerIntent intent, string instanceId, CancellationToken cancellationToken)
    {
        await importer.StartRowAsync(cancellationToken);
        await importer.WriteAsync(intent.Id, NpgsqlDbType.Text, cancellationToken);
        await importer.WriteAsync(SqliteLedgerSchema.ToStoredTimestamp(intent.CreatedAt), NpgsqlDbType.Bigint, cancellationToken);
        await importer.WriteAsync(instanceId, NpgsqlDbType.Text, cancellationToken);
        await WriteTextAsync(importer, intent.ReservationId, cancellationToken);
        await importer.WriteAsync(intent.RequestId, NpgsqlDbType.Text, cancellationToken);
        await WriteTextAsync(importer, intent.KeyId, cancellationToken);
        await WriteTextAsync(importer, intent.SessionId, cancellationToken);
        await WriteTextAsync(importer, intent.TaskLabel, cancellationToken);
        await importer.WriteAsync(intent.RequestedModel, NpgsqlDbType.Text, cancellationToken);
        await importer.WriteAsync(intent.RoutedModel, NpgsqlDbType.Text, cancellationToken);
        await WriteTextAsync(importer, intent.Policy, cancellationToken);
        await importer.WriteAsync(intent.Attempt, NpgsqlDbType.Integer, cancellationToken);
        await WriteTextAsync(importer, intent.EscalatedFrom, cancellationToken);
        await WriteTextAsync(importer, intent.Effort, cancellationToken);
        await importer.WriteAsync(intent.EffortIsDefault, NpgsqlDbType.Boolean, cancellationToken);
        await importer.WriteAsync(intent.Streaming, NpgsqlDbType.Boolean, cancellationToken);
        await WriteTextAsync(importer, intent.ShadowPairId, cancellationToken);
        await importer.WriteAsync(intent.InputTokens, NpgsqlDbType.Bigint, cancellationToken);
        await importer.WriteAsync(intent.OutputTokens, NpgsqlDbType.Bigint, cancellationToken);
    }
}
