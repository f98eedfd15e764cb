using System.Security.Cryptography;
using System.Text;

namespace ModelMix.Ledger;

/// <summary>
/// One partition of a time-partitioned raw ledger (PostgreSQL: docs/ledger.md, "PostgreSQL partitions"): the rows whose
/// timestamp is in [<see cref="From"/>, <see cref="To"/>).
/// </summary>
/// <param name="Name">The partition's table name.</param>
/// <param name="From">Its first instant (inclusive); null: unbounded below (a table attached by a migration).</param>
/// <param name="To">Its end (exclusive); null: unbounded above.</param>
public readonly record struct LedgerPartition(string Name, DateTimeOffset? From, DateTimeOffset? To)
{
    /// <summary>Whether <paramref name="timestamp"/> falls in this partition.</summary>
    public bool Contains(DateTimeOffset timestamp) => (From is not { } from || timestamp >= from) && (To is not { } to || timestamp < to);
}

/// <summary>
/// What a partition must hold to be dropped by a prune: the exported rows of its range — their count, exact cost sum,
/// and an order-independent checksum of their ids (the sum of the first 60 bits of each id's MD5, which PostgreSQL
/// computes as <c>('x' || substr(md5(id), 1, 15))::bit(60)::bigint</c>), so a partition holding other rows than the
/// export, even with the same count and total, is not dropped.
/// </summary>
/// <param name="Rows">Rows.</param>
/// <param name="CostTotal">Their exact summed <c>cost_total</c> (unpriced rows add nothing).</param>
/// <param name="IdChecksum">The sum of their ids' hashes.</param>
public readonly record struct LedgerPartitionContents(long Rows, decimal CostTotal, decimal IdChecksum)
{
    /// <summary>These contents plus <paramref name="row"/>.</summary>
    public LedgerPartitionContents Add(LedgerExportedRow row) =>
        new(Rows + 1, CostTotal + (row.CostTotal ?? 0m), IdChecksum + IdHash(row.Id));

    /// <summary>The first 60 bits of the MD5 of <paramref name="id"/>'s UTF-8 bytes, as a non-negative integer.</summary>
    public static long IdHash(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        Span<byte> hash = stackalloc byte[16];
#pragma warning disable CA5351 // a checksum of ids the store computes the same way, not a security use
        MD5.HashData(Encoding.UTF8.GetBytes(id), hash);
#pragma warning restore CA5351
        long value = 0;
        for (var i = 0; i < 8; i++)
        {
            value = (value << 8) | hash[i];
        }

        return (long)((ulong)value >> 4);
    }
}

/// <summary>
/// A ledger store whose raw rows are partitioned by time, so that retention drops whole partitions instead of deleting
/// rows (<see cref="LedgerPruner"/> uses it after verifying the export; the PostgreSQL store is one).
/// </summary>
public interface ILedgerPartitionStore
{
    /// <summary>The raw ledger's partitions, earliest first.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    Task<IReadOnlyList<LedgerPartition>> ListPartitionsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Drops <paramref name="partition"/> — in one transaction, after checking it holds exactly
    /// <paramref name="expected"/> (a row that arrived or was repriced since the export makes it differ): true when it
    /// was dropped (or no longer exists), false when it holds something else (nothing changed; prune its rows one by one).
    /// </summary>
    /// <param name="partition">A partition <see cref="ListPartitionsAsync"/> returned, entirely before the prune's cut.</param>
    /// <param name="expected">The exported rows of its range.</param>
    /// <param name="cancellationToken">Cancels before the drop commits.</param>
    Task<bool> DropPartitionAsync(LedgerPartition partition, LedgerPartitionContents expected, CancellationToken cancellationToken = default);
}
