namespace ModelMix.Ledger;

/// <summary>
/// Where an export stands: the last row written, in the export's order (timestamp, then id in ordinal order). The next
/// page starts strictly after it, so an interrupted export resumes without a gap or a duplicate.
/// </summary>
/// <param name="Timestamp">The last exported row's timestamp.</param>
/// <param name="Id">The last exported row's id.</param>
public readonly record struct LedgerCursor(DateTimeOffset Timestamp, string Id);

/// <summary>One exported row as the prune checks it against the store: its id and its exact recorded total.</summary>
/// <param name="Id">The record's id.</param>
/// <param name="CostTotal">Its <c>cost_total</c>; null when unpriced.</param>
public readonly record struct LedgerExportedRow(string Id, decimal? CostTotal);

/// <summary>What one prune batch deleted.</summary>
/// <param name="Deleted">Raw rows deleted.</param>
/// <param name="CostTotal">Their exact summed <c>cost_total</c> (unpriced rows add nothing).</param>
public readonly record struct LedgerPruneBatch(long Deleted, decimal CostTotal);

/// <summary>
/// A ledger store that can page its raw rows for export and delete exported rows (retention, docs/ledger.md
/// "Export and retention"). Both stores ModelMix ships implement it.
/// </summary>
public interface ILedgerExportStore
{
    /// <summary>
    /// At most <paramref name="limit"/> committed records that <paramref name="query"/> selects (its <c>Limit</c> is
    /// ignored), ordered by timestamp then id (ordinal), strictly after <paramref name="after"/>. Each page is its own
    /// short read, so a long export never holds one snapshot open.
    /// </summary>
    /// <param name="query">Which records (time range, key, model, …).</param>
    /// <param name="after">The last row of the previous page; null: from the first.</param>
    /// <param name="limit">The page size, at least 1.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    IAsyncEnumerable<LedgerRecord> ReadPageAsync(LedgerQuery query, LedgerCursor? after, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes, in one short transaction, the raw rows among <paramref name="rows"/> whose timestamp is before
    /// <paramref name="before"/>, after checking that each one still carries the exported <c>cost_total</c> (a row
    /// repriced since its export is not deleted: the whole batch is refused with <see cref="InvalidOperationException"/>
    /// and nothing of it is deleted). Ids no longer stored (an earlier prune) are skipped. Rollups, intents and batches
    /// are never touched.
    /// </summary>
    /// <param name="rows">Exported rows (ids and totals read back from the export file).</param>
    /// <param name="before">The cut: rows at or after it are never deleted.</param>
    /// <param name="cancellationToken">Cancels the batch before it commits.</param>
    Task<LedgerPruneBatch> DeleteExportedAsync(IReadOnlyList<LedgerExportedRow> rows, DateTimeOffset before, CancellationToken cancellationToken = default);
}

/// <summary>The check <see cref="ILedgerExportStore.DeleteExportedAsync"/> runs on the rows its delete returned.</summary>
internal static class LedgerPruneCheck
{
    /// <summary>Throws when a deleted row's stored total differs from its exported one; else the batch's count and sum.</summary>
    public static LedgerPruneBatch Verify(IReadOnlyList<LedgerExportedRow> exported, List<(string Id, decimal? Cost)> deleted)
    {
        var expected = new Dictionary<string, decimal?>(exported.Count, StringComparer.Ordinal);
        foreach (var row in exported)
        {
            expected[row.Id] = row.CostTotal;
        }

        decimal sum = 0;
        foreach (var (id, cost) in deleted)
        {
            if (!expected.TryGetValue(id, out var want) || want != cost)
            {
                throw new InvalidOperationException(
                    $"Ledger row {id} no longer matches its export (cost_total {Text(cost)} stored, {Text(want)} exported; repriced since?): " +
                    "nothing of this batch was deleted. Export again to a new file, then prune.");
            }

            sum += cost ?? 0m;
        }

        return new LedgerPruneBatch(deleted.Count, sum);
    }

    private static string Text(decimal? value) => value is { } v ? SqliteLedgerSchema.ToStoredDecimal(v) : "null";
}
