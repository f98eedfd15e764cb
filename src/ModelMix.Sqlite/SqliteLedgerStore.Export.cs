using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace ModelMix.Ledger;

public sealed partial class SqliteLedgerStore : ILedgerExportStore
{
    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRecord> ReadPageAsync(
        LedgerQuery query, LedgerCursor? after, int limit, CancellationToken cancellationToken = default) =>
        LedgerPages.ReadAsync(OpenPageReaderAsync, '$', "id", static reader => ReadRecord((SqliteDataReader)reader), query, after, limit, cancellationToken);

    private async Task<DbConnection> OpenPageReaderAsync(CancellationToken cancellationToken)
    {
        EnsureReadable();
        return await OpenReaderAsync(cancellationToken);
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
