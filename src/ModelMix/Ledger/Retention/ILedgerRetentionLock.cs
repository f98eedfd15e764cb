namespace ModelMix.Ledger;

/// <summary>
/// A ledger store that lets one process at a time run retention (export-then-prune) over it: PostgreSQL with a
/// session advisory lock (several replicas share the database), SQLite with an exclusive lock file beside the database.
/// </summary>
public interface ILedgerRetentionLock
{
    /// <summary>
    /// Takes the retention lock without waiting: a handle that releases it when disposed, or null when another process
    /// (or another run in this one) holds it.
    /// </summary>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    Task<IAsyncDisposable?> TryLockRetentionAsync(CancellationToken cancellationToken = default);
}
