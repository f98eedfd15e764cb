namespace ModelMix.Ledger;

public sealed partial class SqliteLedgerStore : ILedgerExportStore
{
    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRecord> ReadPageAsync(LedgerQuery query, LedgerCursor? after, int limit, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.ReadPageAsync(Dialect, OpenCheckedReaderAsync, query, after, limit, cancellationToken);

    /// <inheritdoc />
    public Task<LedgerPruneBatch> DeleteExportedAsync(IReadOnlyList<LedgerExportedRow> rows, DateTimeOffset before, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.DeleteExportedAsync(Dialect, InWriteTransactionAsync, rows, before, cancellationToken);
}
