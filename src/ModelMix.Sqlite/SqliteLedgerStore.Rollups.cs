using Microsoft.Data.Sqlite;
using ModelMix.Pricing;

namespace ModelMix.Ledger;

public sealed partial class SqliteLedgerStore : ILedgerRollupStore, ILedgerDayVersions
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

    private static readonly string[] RepriceParameters = ["$i", "$o", "$w5", "$w1", "$r", "$st", "$t", "$status", "$seq"];

    /// <inheritdoc />
    public async Task<long> RepriceAsync(
        DateTimeOffset from, DateTimeOffset to, Func<LedgerRecord, CostBreakdown?> price, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(price);
        var fromHour = LedgerRollupReader.FloorHour(from);
        var toHour = LedgerRollupReader.CeilingHour(to);
        await ModelMix.Threading.IoThreads.LeaveAsync();
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            var connection = OpenCheckedWriter();
            using var transaction = connection.BeginTransaction(deferred: false);
            RequireRawRows(connection, transaction, fromHour, toHour);
            var changes = new List<(long Seq, CostBreakdown Cost, LedgerStatus Status)>();
            using (var select = connection.CreateCommand())
            {
                select.Transaction = transaction;
                select.CommandText = $"SELECT {SqliteLedgerSchema.SelectColumns}, seq FROM ledger_records WHERE timestamp >= $from AND timestamp < $to ORDER BY seq;";
                select.Parameters.AddWithValue("$from", fromHour);
                select.Parameters.AddWithValue("$to", toHour);
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    var record = ReadRecord(reader);
                    if (price(record) is { } cost)
                    {
                        changes.Add((reader.GetInt64(SqliteLedgerSchema.Columns.Length), cost, record.Status == LedgerStatus.Unpriced ? LedgerStatus.Ok : record.Status));
                    }
                }
            }

            using (var update = connection.CreateCommand())
            {
                update.Transaction = transaction;
                update.CommandText =
                    "UPDATE ledger_records SET cost_input = $i, cost_output = $o, cost_cache_write_5m = $w5, cost_cache_write_1h = $w1, " +
                    "cost_cache_read = $r, cost_server_tools = $st, cost_total = $t, status = $status WHERE seq = $seq;";
                var parameters = RepriceParameters
                    .Select(name => update.Parameters.Add(name, SqliteType.Text)).ToArray();
                parameters[8].SqliteType = SqliteType.Integer;
                foreach (var (seq, cost, status) in changes)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    parameters[0].Value = SqliteLedgerSchema.ToStoredDecimal(cost.Input);
                    parameters[1].Value = SqliteLedgerSchema.ToStoredDecimal(cost.Output);
                    parameters[2].Value = SqliteLedgerSchema.ToStoredDecimal(cost.CacheWrite5m);
                    parameters[3].Value = SqliteLedgerSchema.ToStoredDecimal(cost.CacheWrite1h);
                    parameters[4].Value = SqliteLedgerSchema.ToStoredDecimal(cost.CacheRead);
                    parameters[5].Value = SqliteLedgerSchema.ToStoredDecimal(cost.ServerTools);
                    parameters[6].Value = SqliteLedgerSchema.ToStoredDecimal(cost.Total);
                    parameters[7].Value = SqliteLedgerSchema.ToCode(status);
                    parameters[8].Value = seq;
                    update.ExecuteNonQuery();
                }
            }

            SqliteLedgerRollups.Recompute(connection, transaction, fromHour, toHour);
            transaction.Commit();
            return changes.Count;
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not ObjectDisposedException and not InvalidOperationException)
        {
            ResetWriter();
            throw;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Refuses to recompute hours whose raw rows were pruned (the rollups count more calls than the raw rows hold).</summary>
    private static void RequireRawRows(SqliteConnection connection, SqliteTransaction transaction, long fromHour, long toHour)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText =
            $"SELECT (SELECT COALESCE(SUM(calls), 0) FROM {LedgerRollupSql.Table} WHERE hour >= $from AND hour < $to), " +
            "(SELECT COUNT(*) FROM ledger_records WHERE timestamp >= $from AND timestamp < $to);";
        command.Parameters.AddWithValue("$from", fromHour);
        command.Parameters.AddWithValue("$to", toHour);
        using var reader = command.ExecuteReader();
        reader.Read();
        if (reader.GetInt64(0) != reader.GetInt64(1))
        {
            throw new InvalidOperationException(
                "Some raw ledger rows of the hours to reprice were pruned (retention): their rollups cannot be recomputed. " +
                "Reprice only hours still within the raw rows' retention (docs/ledger.md, \"Retention\").");
        }
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
