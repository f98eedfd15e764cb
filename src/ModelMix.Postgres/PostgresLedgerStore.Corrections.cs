using ModelMix.Ledger;
using ModelMix.Pricing;
using Npgsql;
using NpgsqlTypes;

namespace ModelMix.Postgres;

public sealed partial class PostgresLedgerStore : ILedgerCorrections
{
    /// <inheritdoc />
    public async Task<int> CorrectEstimatesAsync(IReadOnlyList<(string Id, TokenUsage Usage)> corrections, Func<LedgerRecord, CostBreakdown?> price, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(corrections);
        ArgumentNullException.ThrowIfNull(price);
        if (corrections.Count == 0)
        {
            return 0;
        }

        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // Writers wait while the hours are recomputed, so none adds to a rollup row deleted and rebuilt meanwhile (as a repricing does).
        await PostgresDatabase.ExecuteAsync(connection, transaction, $"LOCK TABLE {LedgerRollupSql.Table} IN SHARE ROW EXCLUSIVE MODE;", cancellationToken);
        var hours = new SortedSet<long>();
        var corrected = 0;
        foreach (var (recordId, usage) in corrections)
        {
            LedgerRecord stored;
            long timestamp;
            await using (var select = new NpgsqlCommand(
                $"SELECT {SqliteLedgerSchema.SelectColumns} FROM ledger_records WHERE id = @id AND usage_estimated FOR UPDATE;", connection, transaction))
            {
                select.Parameters.AddWithValue("id", recordId);
                await using var reader = await select.ExecuteReaderAsync(cancellationToken);
                if (!await reader.ReadAsync(cancellationToken))
                {
                    continue; // not stored, or corrected already
                }

                stored = ReadRecord(reader);
                timestamp = reader.GetInt64(1);
            }

            var cost = price(stored with { Usage = usage, UsageEstimated = false, Cost = null });
            await using var update = new NpgsqlCommand(
                "UPDATE ledger_records SET " + LedgerRowSql.CorrectionSet('@', "false") +
                " WHERE id = @id AND timestamp = @ts AND usage_estimated;" /* the key (id, timestamp): one partition */, connection, transaction);
            update.Parameters.AddWithValue("i", usage.InputTokens);
            update.Parameters.AddWithValue("o", usage.OutputTokens);
            update.Parameters.AddWithValue("w5", usage.CacheWrite5mTokens);
            update.Parameters.AddWithValue("w1", usage.CacheWrite1hTokens);
            update.Parameters.AddWithValue("r", usage.CacheReadTokens);
            update.Parameters.AddWithValue("tier", SqliteLedgerSchema.ToCode(usage.ServiceTier));
            update.Parameters.AddWithValue("speed", SqliteLedgerSchema.ToCode(usage.Speed));
            update.Parameters.Add(new NpgsqlParameter("geo", NpgsqlDbType.Text) { Value = (object?)usage.InferenceGeo ?? DBNull.Value });
            update.Parameters.AddWithValue("ws", usage.WebSearchRequests);
            update.Parameters.AddWithValue("wf", usage.WebFetchRequests);
            update.Parameters.Add(Money("ci", cost?.Input));
            update.Parameters.Add(Money("co", cost?.Output));
            update.Parameters.Add(Money("cw5", cost?.CacheWrite5m));
            update.Parameters.Add(Money("cw1", cost?.CacheWrite1h));
            update.Parameters.Add(Money("cr", cost?.CacheRead));
            update.Parameters.Add(Money("cst", cost?.ServerTools));
            update.Parameters.Add(Money("ct", cost?.Total));
            update.Parameters.AddWithValue("id", recordId);
            update.Parameters.AddWithValue("ts", timestamp);
            corrected += await update.ExecuteNonQueryAsync(cancellationToken);
            hours.Add(LedgerRollupReader.FloorHour(stored.Timestamp));
        }

        foreach (var hour in hours)
        {
            await using (var check = new NpgsqlCommand(
                $"SELECT (SELECT COALESCE(SUM(calls), 0)::bigint FROM {LedgerRollupSql.Table} WHERE hour >= @from AND hour < @to), " +
                "(SELECT COUNT(*) FROM ledger_records WHERE timestamp >= @from AND timestamp < @to);", connection, transaction))
            {
                check.Parameters.AddWithValue("from", hour);
                check.Parameters.AddWithValue("to", hour + LedgerRollupSql.HourTicks);
                await using var reader = await check.ExecuteReaderAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                if (reader.GetInt64(0) != reader.GetInt64(1))
                {
                    throw new InvalidOperationException("Some raw ledger rows of the hour to correct were pruned (retention): its rollups cannot be recomputed.");
                }
            }

            await using var recompute = new NpgsqlCommand(PostgresLedgerRollups.RecomputeSql, connection, transaction);
            recompute.Parameters.AddWithValue("from", hour);
            recompute.Parameters.AddWithValue("to", hour + LedgerRollupSql.HourTicks);
            await recompute.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return corrected;
    }

    private static NpgsqlParameter Money(string name, decimal? value) => new(name, NpgsqlDbType.Numeric) { Value = value is { } money ? money : DBNull.Value };
}
