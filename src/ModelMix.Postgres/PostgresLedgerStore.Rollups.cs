using System.Runtime.CompilerServices;
using ModelMix.Ledger;
using ModelMix.Pricing;
using Npgsql;

namespace ModelMix.Postgres;

public sealed partial class PostgresLedgerStore : ILedgerRollupStore, ILedgerDayVersions
{
    /// <inheritdoc />
    async Task<IReadOnlyDictionary<DateTimeOffset, long>> ILedgerDayVersions.ReadDayVersionsAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        return await LedgerDayVersions.ReadAsync(connection, '@', from, to, cancellationToken);
    }

    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRollup> ReadRollupsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default) =>
        ReadRollupTableAsync(from, to, daily: false, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRollup> ReadDailyRollupsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default) =>
        ReadRollupTableAsync(from, to, daily: true, cancellationToken);

    private async IAsyncEnumerable<LedgerRollup> ReadRollupTableAsync(
        DateTimeOffset? from, DateTimeOffset? to, bool daily, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = LedgerRollupReader.SelectSql('@', from is not null, to is not null, daily);
        if (from is { } f)
        {
            command.Parameters.AddWithValue("from", daily ? LedgerRollupReader.FloorDay(f) : LedgerRollupReader.FloorHour(f));
        }

        if (to is { } t)
        {
            command.Parameters.AddWithValue("to", daily ? LedgerRollupReader.CeilingDay(t) : LedgerRollupReader.CeilingHour(t));
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return LedgerRollupReader.Read(reader, static (r, i) => r.GetDecimal(i));
        }
    }

    /// <inheritdoc />
    public async Task<long> RepriceAsync(
        DateTimeOffset from, DateTimeOffset to, Func<LedgerRecord, CostBreakdown?> price, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(price);
        EnsureReadable();
        var fromHour = LedgerRollupReader.FloorHour(from);
        var toHour = LedgerRollupReader.CeilingHour(to);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // Writers wait while the hours are recomputed, so none adds to a rollup row deleted and rebuilt meanwhile.
        await PostgresDatabase.ExecuteAsync(connection, transaction, $"LOCK TABLE {LedgerRollupSql.Table} IN SHARE ROW EXCLUSIVE MODE;", cancellationToken);
        await using (var check = new NpgsqlCommand(
            $"SELECT (SELECT COALESCE(SUM(calls), 0)::bigint FROM {LedgerRollupSql.Table} WHERE hour >= @from AND hour < @to), " +
            "(SELECT COUNT(*) FROM ledger_records WHERE timestamp >= @from AND timestamp < @to);", connection, transaction))
        {
            check.Parameters.AddWithValue("from", fromHour);
            check.Parameters.AddWithValue("to", toHour);
            await using var reader = await check.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            if (reader.GetInt64(0) != reader.GetInt64(1))
            {
                throw new InvalidOperationException(
                    "Some raw ledger rows of the hours to reprice were pruned (retention): their rollups cannot be recomputed. " +
                    "Reprice only hours still within the raw rows' retention (docs/ledger.md, \"Retention\").");
            }
        }

        var changes = new List<(string Id, long Timestamp, CostBreakdown Cost, LedgerStatus Status)>();
        await using (var select = new NpgsqlCommand(
            $"SELECT {SqliteLedgerSchema.SelectColumns} FROM ledger_records WHERE timestamp >= @from AND timestamp < @to ORDER BY timestamp, seq;", connection, transaction))
        {
            select.Parameters.AddWithValue("from", fromHour);
            select.Parameters.AddWithValue("to", toHour);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var record = ReadRecord(reader);
                if (price(record) is { } cost)
                {
                    changes.Add((record.Id, reader.GetInt64(1), cost, record.Status == LedgerStatus.Unpriced ? LedgerStatus.Ok : record.Status));
                }
            }
        }

        foreach (var (id, timestamp, cost, status) in changes)
        {
            await using var update = new NpgsqlCommand(
                "UPDATE ledger_records SET cost_input = @i, cost_output = @o, cost_cache_write_5m = @w5, cost_cache_write_1h = @w1, " +
                "cost_cache_read = @r, cost_server_tools = @st, cost_total = @t, status = @status WHERE id = @id AND timestamp = @ts;" /* the key: one partition, one row */, connection, transaction);
            update.Parameters.AddWithValue("i", cost.Input);
            update.Parameters.AddWithValue("o", cost.Output);
            update.Parameters.AddWithValue("w5", cost.CacheWrite5m);
            update.Parameters.AddWithValue("w1", cost.CacheWrite1h);
            update.Parameters.AddWithValue("r", cost.CacheRead);
            update.Parameters.AddWithValue("st", cost.ServerTools);
            update.Parameters.AddWithValue("t", cost.Total);
            update.Parameters.AddWithValue("status", SqliteLedgerSchema.ToCode(status));
            update.Parameters.AddWithValue("id", id);
            update.Parameters.AddWithValue("ts", timestamp);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var recompute = new NpgsqlCommand(PostgresLedgerRollups.RecomputeSql, connection, transaction))
        {
            recompute.Parameters.AddWithValue("from", fromHour);
            recompute.Parameters.AddWithValue("to", toHour);
            await recompute.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return changes.Count;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<LedgerCallSummary> ReadCallSummariesAsync(
        DateTimeOffset? from, DateTimeOffset? to, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = LedgerRollupReader.CallSummariesSql('@', from is not null, to is not null);
        AddRange(command, from, to);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new LedgerCallSummary(
                reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(2)),
                reader.IsDBNull(3) ? 0m : reader.GetDecimal(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt32(5), reader.GetBoolean(6), reader.GetInt64(7));
        }
    }

    /// <inheritdoc />
    public async Task<long> CountEscalatedRequestsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default)
    {
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandTimeout = 0; // a count over the range (an index-only scan); the token still cancels
        // The writer's per-hour counts, the multi-hour requests and the partial hours' raw rows, in one statement (one snapshot).
        return await LedgerEscalationRollup.CountAsync(command, '@', LedgerSqlDialect.Postgres, from, to, cancellationToken);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<LedgerRecord> ReadLatestAsync(
        DateTimeOffset? from, DateTimeOffset? to, int count, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = LedgerRollupReader.LatestSql('@', from is not null, to is not null);
        AddRange(command, from, to);
        command.Parameters.AddWithValue("count", count);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return ReadRecord(reader);
        }
    }

    private static void AddRange(NpgsqlCommand command, DateTimeOffset? from, DateTimeOffset? to)
    {
        if (from is { } f)
        {
            command.Parameters.AddWithValue("from", SqliteLedgerSchema.ToStoredTimestamp(f));
        }

        if (to is { } t)
        {
            command.Parameters.AddWithValue("to", SqliteLedgerSchema.ToStoredTimestamp(t));
        }
    }
}
