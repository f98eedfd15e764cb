using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using ModelMix.Pricing;

namespace ModelMix.Ledger;

public sealed partial class SqliteLedgerStore : ILedgerRollupStore, ILedgerDayVersions
{
    /// <inheritdoc />
    async Task<IReadOnlyDictionary<DateTimeOffset, long>> ILedgerDayVersions.ReadDayVersionsAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        EnsureReadable();
        await using var connection = await OpenReaderAsync(cancellationToken);
        return await LedgerDayVersions.ReadAsync(connection, '$', from, to, cancellationToken);
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
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        EnsureReadable();
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = LedgerRollupReader.SelectSql('$', from is not null, to is not null, daily);
        if (from is { } f)
        {
            command.Parameters.AddWithValue("$from", daily ? LedgerRollupReader.FloorDay(f) : LedgerRollupReader.FloorHour(f));
        }

        if (to is { } t)
        {
            command.Parameters.AddWithValue("$to", daily ? LedgerRollupReader.CeilingDay(t) : LedgerRollupReader.CeilingHour(t));
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return LedgerRollupReader.Read(reader, static (r, i) => SqliteLedgerSchema.FromStoredDecimal(r.GetString(i)));
        }
    }

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
    public async IAsyncEnumerable<LedgerCallSummary> ReadCallSummariesAsync(
        DateTimeOffset? from, DateTimeOffset? to, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        EnsureReadable();
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = LedgerRollupReader.CallSummariesSql('$', from is not null, to is not null);
        AddRange(command, from, to);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new LedgerCallSummary(
                reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(2)),
                reader.IsDBNull(3) ? 0m : SqliteLedgerSchema.FromStoredDecimal(reader.GetString(3)),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt32(5), reader.GetInt64(6) != 0, reader.GetInt64(7));
        }
    }

    /// <inheritdoc />
    public async Task<long> CountEscalatedRequestsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        EnsureReadable();
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        // The writer's per-hour counts, the multi-hour requests and the partial hours' raw rows, in one statement (one snapshot).
        return await LedgerEscalationRollup.CountAsync(command, '$', LedgerSqlDialect.Sqlite, from, to, cancellationToken);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<LedgerRecord> ReadLatestAsync(
        DateTimeOffset? from, DateTimeOffset? to, int count, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        EnsureReadable();
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = LedgerRollupReader.LatestSql('$', from is not null, to is not null);
        AddRange(command, from, to);
        command.Parameters.AddWithValue("$count", count);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return ReadRecord(reader);
        }
    }

    private static void AddRange(SqliteCommand command, DateTimeOffset? from, DateTimeOffset? to)
    {
        if (from is { } f)
        {
            command.Parameters.AddWithValue("$from", SqliteLedgerSchema.ToStoredTimestamp(f));
        }

        if (to is { } t)
        {
            command.Parameters.AddWithValue("$to", SqliteLedgerSchema.ToStoredTimestamp(t));
        }
    }
}
