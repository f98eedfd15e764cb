using System.Data.Common;
using ModelMix.Ledger;
using Npgsql;
using NpgsqlTypes;

namespace ModelMix.Postgres;

public sealed partial class PostgresLedgerStore : ILedgerExportStore
{
    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRecord> ReadPageAsync(
        LedgerQuery query, LedgerCursor? after, int limit, CancellationToken cancellationToken = default) =>
        LedgerPages.ReadAsync(OpenPageReaderAsync, '@', "id COLLATE \"C\"", static reader => ReadRecord((NpgsqlDataReader)reader), query, after, limit, cancellationToken);

    private async Task<DbConnection> OpenPageReaderAsync(CancellationToken cancellationToken)
    {
        EnsureReadable();
        return await _database.OpenAsync(cancellationToken);
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
