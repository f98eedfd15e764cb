namespace ModelMix.Ledger;

/// <summary>
/// A ledger that settles budget reservations in its own batches, after the records queued before them
/// (<see cref="BufferedLedger"/> over an <see cref="IAttemptJournalStore"/>): docs/ledger.md, "Crash consistency".
/// </summary>
internal interface ISettlingLedger
{
    /// <summary>Whether the store under the ledger can settle (an <see cref="IAttemptJournalStore"/>).</summary>
    bool CanSettle { get; }

    /// <summary>
    /// Queues <paramref name="settlement"/> behind every record queued before it and completes once the batch holding
    /// it is committed: the reservation is released and charged what the ledger holds for its request.
    /// </summary>
    Task SettleAsync(ReservationSettlement settlement, CancellationToken ct = default);
}
