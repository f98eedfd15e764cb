using System.Runtime.CompilerServices;

namespace ModelMix.Ledger;

public sealed partial class SqliteLedgerStore : ILedgerExportStore
{
    /// <inheritdoc />
    public async IAsyncEnumerable<LedgerRecord> ReadPageAsync(
        LedgerQuery query, LedgerCursor? after, int limit, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        EnsureReadable();
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var where = BuildWhere(command, query with { Limit = null });
        if (after is { } cursor)
        {
            where += (where.Length == 0 ? " WHERE " : " AND ") + "(timestamp > $after_ts OR (timestamp = $after_ts AND id > $after_id))";
            command.Parameters.AddWithValue("$after_ts", SqliteLedgerSchema.ToStoredTimestamp(cursor.Timestamp));
            command.Parameters.AddWithValue("$after_id", cursor.Id);
        }

        command.Parameters.AddWithValue("$page", limit);
        command.CommandText = $"SELECT {SqliteLedgerSchema.SelectColumns} FROM ledger_records{where} ORDER BY timestamp, id LIMIT $page;";
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

        var ids = LedgerExportFile.IdArray(rows);
        await ModelMix.Threading.IoThreads.LeaveAsync();
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            EnsureMigrated();
            var connection = OpenWriter();
            using var transaction = connection.BeginTransaction(deferred: false);
            var deleted = new List<(string Id, decimal? Cost)>(rows.Count);
            using (var delete = connection.CreateCommand())
            {
                delete.Transaction = transaction;
                delete.CommandText =
                    "DELETE FROM ledger_records WHERE id IN (SELECT value FROM json_each($ids)) AND timestamp < $before RETURNING id, cost_total;";
                delete.Parameters.AddWithValue("$ids", ids);
                delete.Parameters.AddWithValue("$before", SqliteLedgerSchema.ToStoredTimestamp(before));
                using var reader = delete.ExecuteReader();
                while (reader.Read())
                {
                    deleted.Add((reader.GetString(0), reader.IsDBNull(1) ? null : SqliteLedgerSchema.FromStoredDecimal(reader.GetString(1))));
                }
            }

            var batch = LedgerPruneCheck.Verify(rows, deleted); // throws (and rolls back) when a row changed since its export
            cancellationToken.ThrowIfCancellationRequested();
            transaction.Commit();
            return batch;
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
}
