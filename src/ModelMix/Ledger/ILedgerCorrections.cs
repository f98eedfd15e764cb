using ModelMix.Pricing;

namespace ModelMix.Ledger;

/// <summary>
/// The one exception to the ledger's append-only rule: a record stored with <see cref="LedgerRecord.UsageEstimated"/>
/// (ModelMix's documented worst case, written because the upstream's usage could not be had) gets the usage the upstream
/// reported once it can be had after all — e.g. the results of a Message Batch collected after its job was quarantined
/// (docs/batch.md, "Correcting the estimates"). Only estimated records are changed, each at most once (the flag is
/// cleared); everything but the usage, its cost and the flag stays as written, the timestamp (so the hour) included,
/// and the hourly rollups of the hours touched are recomputed from the raw rows in the same transaction.
/// </summary>
public interface ILedgerCorrections
{
    /// <summary>
    /// Replaces the usage of each record of <paramref name="corrections"/> that is stored with
    /// <see cref="LedgerRecord.UsageEstimated"/> set, prices it with <paramref name="price"/> (the stored record with the
    /// new usage; null stores it unpriced, no cost), clears the flag and recomputes the rollups of the hours touched — one
    /// transaction. Records not stored, or no longer estimated, are skipped, so repeating a correction is harmless.
    /// </summary>
    /// <param name="corrections">Record id and the usage the upstream reported.</param>
    /// <param name="price">The cost of a record with its reported usage, or null when it cannot be priced.</param>
    /// <param name="cancellationToken">Cancels the correction before it commits.</param>
    /// <returns>How many records were corrected.</returns>
    Task<int> CorrectEstimatesAsync(IReadOnlyList<(string Id, TokenUsage Usage)> corrections, Func<LedgerRecord, CostBreakdown?> price, CancellationToken cancellationToken = default);
}
