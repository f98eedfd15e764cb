using ModelMix.Ledger;
using ModelMix.Pricing;
using Npgsql;

namespace ModelMix.Postgres;

public sealed partial class PostgresLedgerStore : ILedgerRollupStore, ILedgerDayVersions
{
    /// <inheritdoc />
    Task<IReadOnlyDictionary<DateTimeOffset, long>> ILedgerDayVersions.ReadDayVersionsAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        LedgerStoreSql.ReadDayVersionsAsync(Dialect, OpenCheckedReaderAsync, from, to, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRollup> ReadRollupsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.ReadRollupsAsync(Dialect, OpenCheckedReaderAsync, from, to, daily: false, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRollup> ReadDailyRollupsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.ReadRollupsAsync(Dialect, OpenCheckedReaderAsync, from, to, daily: true, cancellationToken);

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
    public IAsyncEnumerable<LedgerCallSummary> ReadCallSummariesAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.ReadCallSummariesAsync(Dialect, OpenCheckedReaderAsync, from, to, cancellationToken);

    /// <inheritdoc />
    public Task<long> CountEscalatedRequestsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.CountEscalatedRequestsAsync(Dialect, OpenCheckedReaderAsync, from, to, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRecord> ReadLatestAsync(DateTimeOffset? from, DateTimeOffset? to, int count, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.ReadLatestAsync(Dialect, OpenCheckedReaderAsync, from, to, count, cancellationToken);
}
