using System.Runtime.CompilerServices;
using ModelMix.Ledger;
using Npgsql;
using NpgsqlTypes;

namespace ModelMix.Postgres;

public sealed partial class PostgresLedgerStore : ILedgerExportStore
{
    /// <inheritdoc />
    public async IAsyncEnumerable<LedgerRecord> ReadPageAsync(
        LedgerQuery query, LedgerCursor? after, int limit, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var where = BuildWhere(command, query with { Limit = null });
        if (after is { } cursor)
        {
            // Ids compare byte by byte (COLLATE "C"), as in SQLite, whatever the database's collation.
            where += (where.Length == 0 ? " WHERE " : " AND ") + "(timestamp > @after_ts OR (timestamp = @after_ts AND id COLLATE \"C\" > @after_id))";
            command.Parameters.AddWithValue("after_ts", SqliteLedgerSchema.ToStoredTimestamp(cursor.Timestamp));
            command.Parameters.AddWithValue("after_id", cursor.Id);
        }

        command.Parameters.AddWithValue("page", limit);
        command.CommandText = $"SELECT {SqliteLedgerSchema.SelectColumns} FROM ledger_records{where} ORDER BY timestamp, id COLLATE \"C\" LIMIT @page;";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return ReadRecord(reader);
        }
    }

    /// <inheritdoc />
    public async Task<LedgerPruneBatch> DeleteExportedAsync(
        IReadOnlyList<LedgerExportedRow> rows, DateTimeOffset before, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0)
        {
            return default;
        }

        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var deleted = new List<(string Id, decimal? Cost)>(rows.Count);
        await using (var delete = new NpgsqlCommand(
            "DELETE FROM ledger_records WHERE id = ANY(@ids) AND timestamp < @before RETURNING id, cost_total;", connection, transaction))
        {
            delete.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = rows.Select(row => row.Id).ToArray() });
            delete.Parameters.AddWithValue("before", SqliteLedgerSchema.ToStoredTimestamp(before));
            await using var reader = await delete.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                deleted.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetDecimal(1)));
            }
        }

        var batch = LedgerPruneCheck.Verify(rows, deleted); // throws (the transaction is rolled back) when a row changed since its export
        await transaction.CommitAsync(cancellationToken);
        return batch;
    }
}
