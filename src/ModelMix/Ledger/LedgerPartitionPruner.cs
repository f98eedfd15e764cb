namespace ModelMix.Ledger;

/// <summary>The partitions a prune dropped whole, and what they held.</summary>
/// <param name="Partitions">The dropped partitions.</param>
/// <param name="Deleted">Their rows.</param>
/// <param name="CostTotal">Their exact summed cost.</param>
internal sealed record LedgerDroppedPartitions(IReadOnlyList<LedgerPartition> Partitions, long Deleted, decimal CostTotal)
{
    /// <summary>Whether a row at <paramref name="timestamp"/> was in a dropped partition.</summary>
    public bool Covers(DateTimeOffset timestamp)
    {
        foreach (var partition in Partitions)
        {
            if (partition.Contains(timestamp))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Retention by dropping partitions (docs/ledger.md, "PostgreSQL partitions"), the first step of a prune's deletes.</summary>
internal static class LedgerPartitionPruner
{
    /// <summary>
    /// Drops each partition of <paramref name="store"/> that ends at or before <paramref name="before"/> and holds exactly
    /// the exported rows of its range (count, exact cost, id checksum: <see cref="LedgerPartitionContents"/>); a partition
    /// that holds anything else (a row arrived or was repriced since the export) is kept, for the row-by-row deletes.
    /// </summary>
    public static async Task<LedgerDroppedPartitions> DropWholePartitionsAsync(
        ILedgerPartitionStore? store, LedgerPruneOptions options, DateTimeOffset before, CancellationToken cancellationToken)
    {
        if (store is null)
        {
            return new LedgerDroppedPartitions([], 0, 0m);
        }

        var whole = (await store.ListPartitionsAsync(cancellationToken)).Where(p => p.To is { } to && to <= before).ToList();
        if (whole.Count == 0)
        {
            return new LedgerDroppedPartitions([], 0, 0m);
        }

        var contents = new LedgerPartitionContents[whole.Count];
        await foreach (var (row, timestamp) in LedgerExportFile.ReadAsync(options.ExportPath, options.Format, cancellationToken))
        {
            var index = whole.FindIndex(p => p.Contains(timestamp));
            if (index >= 0)
            {
                contents[index] = contents[index].Add(row);
            }
        }

        var dropped = new List<LedgerPartition>();
        long rows = 0;
        decimal cost = 0;
        for (var i = 0; i < whole.Count; i++)
        {
            if (await store.DropPartitionAsync(whole[i], contents[i], cancellationToken))
            {
                dropped.Add(whole[i]);
                rows += contents[i].Rows;
                cost += contents[i].CostTotal;
            }
        }

        return new LedgerDroppedPartitions(dropped, rows, cost);
    }
}
