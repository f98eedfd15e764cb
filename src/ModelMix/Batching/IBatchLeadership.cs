namespace ModelMix.Batching;

/// <summary>
/// A store shared by several processes (PostgreSQL) that elects the one whose <see cref="Batcher"/> works: the others
/// stand by and take over when it stops or dies (<see cref="BatcherLeadership"/>). A single-process store (SQLite)
/// does not implement it.
/// </summary>
public interface IBatchLeadership
{
    /// <summary>Becomes the working batcher, or null when another process is.</summary>
    Task<IBatchLease?> TryAcquireAsync(CancellationToken cancellationToken = default);
}

/// <summary>The right to run the batcher, held until disposed (or until the store loses track of the holder).</summary>
public interface IBatchLease : IAsyncDisposable
{
    /// <summary>Whether the lease is still held (false once the store may have given it to another process).</summary>
    Task<bool> IsHeldAsync(CancellationToken cancellationToken = default);
}
