namespace ModelMix.Ledger;

/// <summary>
/// The cost ledger as the pipeline sees it: record one <see cref="LedgerRecord"/> per attempt without waiting for
/// the disk, and read back what was committed. Recording never drops a record: when the buffer is full the caller
/// waits (backpressure).
/// </summary>
public interface ILedger : IAsyncDisposable
{
    /// <summary>The store the ledger commits to (for queries, counts and maintenance).</summary>
    ILedgerStore Store { get; }

    /// <summary>
    /// Queues <paramref name="record"/> for commit. Completes as soon as the record is buffered; waits while the buffer
    /// is full. The record is committed within about the configured flush interval, or by <see cref="FlushAsync"/>.
    /// </summary>
    /// <param name="record">The attempt to record.</param>
    /// <param name="ct">Cancels the wait for buffer space (the record is then not recorded).</param>
    ValueTask RecordAsync(LedgerRecord record, CancellationToken ct = default);

    /// <summary>Completes when every record queued before this call has been committed to the store.</summary>
    /// <param name="ct">Stops waiting (the records are still committed in the background).</param>
    Task FlushAsync(CancellationToken ct = default);

    /// <summary>Streams the committed records <paramref name="query"/> selects, earliest first.</summary>
    /// <param name="query">Which records to return.</param>
    /// <param name="ct">Stops the enumeration.</param>
    IAsyncEnumerable<LedgerRecord> ReadAsync(LedgerQuery query, CancellationToken ct = default);

    /// <summary>Exact totals over the committed records <paramref name="query"/> selects.</summary>
    /// <param name="query">Which records to total.</param>
    /// <param name="ct">Cancels the query.</param>
    Task<LedgerTotals> GetTotalsAsync(LedgerQuery query, CancellationToken ct = default);
}
