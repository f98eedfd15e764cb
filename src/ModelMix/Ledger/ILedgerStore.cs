namespace ModelMix.Ledger;

/// <summary>
/// Durable storage for ledger records. Writes are batched and idempotent on <see cref="LedgerRecord.Id"/>; reads see
/// only committed records. Call <see cref="MigrateAsync"/> once before any other member.
/// </summary>
public interface ILedgerStore : IAsyncDisposable
{
    /// <summary>
    /// Creates or upgrades the schema to the version this code knows, and refuses (with
    /// <see cref="InvalidOperationException"/>) a store written by a newer version. Safe to call on every start.
    /// </summary>
    /// <param name="cancellationToken">Cancels the migration (an interrupted migration leaves the store unchanged).</param>
    Task MigrateAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Commits <paramref name="records"/> in one transaction: all of them or none. A record whose id is already stored
    /// is skipped, so replaying a batch after an uncertain failure never counts anything twice. The store does not
    /// keep a reference to the list after the returned task completes.
    /// </summary>
    /// <param name="records">The records to commit.</param>
    /// <param name="cancellationToken">Cancels the write before it commits (then nothing of the batch is stored).</param>
    Task WriteBatchAsync(IReadOnlyList<LedgerRecord> records, CancellationToken cancellationToken = default);

    /// <summary>Streams the committed records <paramref name="query"/> selects, earliest first.</summary>
    /// <param name="query">Which records to return.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    IAsyncEnumerable<LedgerRecord> ReadAsync(LedgerQuery query, CancellationToken cancellationToken = default);

    /// <summary>Counts, token sums and exact cost sums over the committed records <paramref name="query"/> selects.</summary>
    /// <param name="query">Which records to total.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<LedgerTotals> GetTotalsAsync(LedgerQuery query, CancellationToken cancellationToken = default);

    /// <summary>Counts the committed records <paramref name="query"/> selects.</summary>
    /// <param name="query">Which records to count.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<long> CountAsync(LedgerQuery query, CancellationToken cancellationToken = default);
}
