using ModelMix.Ledger;
using Npgsql;
using NpgsqlTypes;

namespace ModelMix.Postgres;

/// <summary>The attempt intent journal of the PostgreSQL ledger (schema step 5; docs/ledger.md, "Crash consistency").</summary>
public sealed partial class PostgresLedgerStore
{
    private const string CompleteIntents = "DELETE FROM ledger_intents USING ledger_batch WHERE ledger_intents.id = ledger_batch.id;";

    private const string HeartbeatSql =
        "INSERT INTO ledger_instances (instance_id, heartbeat_at) VALUES ($1, $2) ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = GREATEST(ledger_instances.heartbeat_at, excluded.heartbeat_at);";

    private static readonly string CopyIntents = $"COPY ledger_intents ({SqliteLedgerSchema.SelectColumns}, instance_id, reservation_id) FROM STDIN (FORMAT BINARY)";

    /// <inheritdoc />
    public async Task WriteIntentsAsync(string instanceId, IReadOnlyList<LedgerIntent> intents, DateTimeOffset? heartbeatAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        ArgumentNullException.ThrowIfNull(intents);
        for (var i = 0; i < intents.Count; i++)
        {
            LedgerRecordRules.RequireFields(intents[i].Fallback, nameof(intents));
        }

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
                await WriteRowAsync(importer, null, intents[i].Fallback, cancellationToken);
                await importer.WriteAsync(instanceId, NpgsqlDbType.Text, cancellationToken);
                await WriteTextAsync(importer, intents[i].ReservationId, cancellationToken);
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
    public async Task<int> ReconcileIntentsAsync(string selfInstanceId, DateTimeOffset at, TimeSpan staleAfter, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(selfInstanceId);
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // SKIP LOCKED: intents another replica is reconciling right now are left to it, so two sweeps never move one twice.
        var ids = new List<string>();
        await using (var select = new NpgsqlCommand(
            """
            SELECT i.id FROM ledger_intents i LEFT JOIN ledger_instances n ON n.instance_id = i.instance_id
            WHERE i.instance_id <> $1 AND (n.heartbeat_at IS NULL OR n.heartbeat_at < $2)
            ORDER BY i.id FOR UPDATE OF i SKIP LOCKED;
            """, connection, transaction))
        {
            select.Parameters.Add(new NpgsqlParameter { Value = selfInstanceId });
            select.Parameters.Add(new NpgsqlParameter { Value = SqliteLedgerSchema.ToStoredTimestamp(at - staleAfter) });
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                ids.Add(reader.GetString(0));
            }
        }

        if (ids.Count > 0)
        {
            // Moved records (not those whose id was already stored) with a reservation: charged when it was reclaimed already.
            var charges = new List<(string ReservationId, long? Nanos)>();
            await using (var move = new NpgsqlCommand(
                $"""
                WITH moved AS (
                    INSERT INTO ledger_records ({SqliteLedgerSchema.SelectColumns})
                    SELECT {SqliteLedgerSchema.SelectColumns} FROM ledger_intents WHERE id = ANY($1) ORDER BY id
                    ON CONFLICT (id) DO NOTHING
                    RETURNING id, cost_total, input_tokens + output_tokens AS tokens)
                SELECT i.reservation_id, m.cost_total, m.tokens FROM moved m JOIN ledger_intents i ON i.id = m.id WHERE i.reservation_id IS NOT NULL ORDER BY i.reservation_id;
                """, connection, transaction))
            {
                move.Parameters.Add(new NpgsqlParameter { Value = ids.ToArray() });
                await using var reader = await move.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    long? nanos = reader.IsDBNull(1) ? (reader.GetInt64(2) > 0 ? null : 0) : Budgets.BudgetMoney.ToNanos(reader.GetDecimal(1));
                    charges.Add((reader.GetString(0), nanos));
                }
            }

            await using (var delete = new NpgsqlCommand("DELETE FROM ledger_intents WHERE id = ANY($1);", connection, transaction))
            {
                delete.Parameters.Add(new NpgsqlParameter { Value = ids.ToArray() });
                await delete.ExecuteNonQueryAsync(cancellationToken);
            }

            await PostgresBudgetStore.ChargeReclaimedAsync(connection, transaction, charges, cancellationToken);
        }

        await using (var forget = new NpgsqlCommand(
            "DELETE FROM ledger_instances n WHERE n.heartbeat_at < $1 AND NOT EXISTS (SELECT 1 FROM ledger_intents i WHERE i.instance_id = n.instance_id);", connection, transaction))
        {
            forget.Parameters.Add(new NpgsqlParameter { Value = SqliteLedgerSchema.ToStoredTimestamp(at - staleAfter) });
            await forget.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return ids.Count;
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
}
