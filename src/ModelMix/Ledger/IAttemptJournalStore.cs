namespace ModelMix.Ledger;

/// <summary>
/// A ledger store that also keeps the attempt intent journal and settles budget reservations in its batches (both
/// built-in stores do): the durable half of "every upstream call is known to the ledger, even across kill -9"
/// (docs/ledger.md, "Crash consistency").
/// </summary>
public interface IAttemptJournalStore : ILedgerStore
{
    /// <summary>
    /// Commits <paramref name="intents"/> of <paramref name="instanceId"/> in one transaction, which also refreshes
    /// the instance's heartbeat to <paramref name="heartbeatAt"/> unless it is null (<see cref="AttemptJournal"/>
    /// passes one only when its last durable heartbeat is older than its refresh interval).
    /// </summary>
    Task WriteIntentsAsync(string instanceId, IReadOnlyList<LedgerIntent> intents, DateTimeOffset? heartbeatAt, CancellationToken cancellationToken = default);

    /// <summary>Records that <paramref name="instanceId"/> is alive at <paramref name="at"/>.</summary>
    Task HeartbeatAsync(string instanceId, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>
    /// One transaction: inserts <paramref name="records"/> (a record whose id is stored is skipped), deletes the
    /// intents they complete, then settles <paramref name="settlements"/> (release the hold, charge the request's
    /// recorded cost). <see cref="ILedgerStore.WriteBatchAsync"/> is this with no settlements.
    /// </summary>
    Task CommitAsync(IReadOnlyList<LedgerRecord> records, IReadOnlyList<ReservationSettlement> settlements, CancellationToken cancellationToken = default);

    /// <summary>
    /// Turns the intents of dead instances (heartbeat older than <paramref name="staleAfter"/> at <paramref name="at"/>,
    /// never <paramref name="selfInstanceId"/>'s) into their outcome-unknown records
    /// (<see cref="LedgerIntent.ToOutcomeUnknownRecord"/> priced by <paramref name="price"/>), in one transaction per
    /// call, rolled up like any batch's rows; a record charged to a reservation already reclaimed is charged to its
    /// budget counters in that transaction too. Safe when several replicas reconcile at once.
    /// </summary>
    /// <param name="selfInstanceId">The calling process's instance (never reconciled).</param>
    /// <param name="at">Now.</param>
    /// <param name="staleAfter">How old a heartbeat may be before its instance counts as dead.</param>
    /// <param name="price">Prices a record at its timestamp (<see cref="AttemptRecorder.Price"/>).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>How many intents became records.</returns>
    Task<int> ReconcileIntentsAsync(string selfInstanceId, DateTimeOffset at, TimeSpan staleAfter, Func<LedgerRecord, LedgerRecord> price, CancellationToken cancellationToken = default);

    /// <summary>How many intents are pending (all instances).</summary>
    Task<long> CountIntentsAsync(CancellationToken cancellationToken = default);
}
