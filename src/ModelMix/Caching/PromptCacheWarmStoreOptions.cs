namespace ModelMix.Caching;

/// <summary>
/// Tuning of a cache-warm session store, whatever its backend (<see cref="Stores.StoreLocation.CreatePromptCacheWarmStore(TimeProvider?, Microsoft.Extensions.Logging.ILoggerFactory?, PromptCacheWarmStoreOptions?)"/>):
/// the settings every backend honours. A store shared by replicas (PostgreSQL) uses them to bound how stale and how
/// slow its answers may be; the in-process store of a local file (SQLite) answers at once from memory, so it is never
/// stale, never waits and never fails, and needs none of them. The defaults suit a proxy replica. A backend with more
/// settings takes a class derived from this one (PostgreSQL: <c>PostgresPromptCacheWarmStoreOptions</c>, which adds
/// its prune interval); given only this class, it uses its defaults for the rest.
/// </summary>
public class PromptCacheWarmStoreOptions
{
    /// <summary>
    /// How long a session's warmth read from the shared store (or written by this replica) is reused without reading it
    /// again (default 1 second; zero reads the store on every lookup). It bounds how stale a replica's view of a
    /// session another replica just moved can be. Set by <c>ModelMix:Caching:WarmStoreLocalTtl</c> in the proxy.
    /// </summary>
    public TimeSpan LocalCacheTtl { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest a lookup waits for the shared store before it answers from local state (default 2 seconds).</summary>
    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>After a failed call, how long the store answers from local state only before trying the shared store again (default 15 seconds).</summary>
    public TimeSpan RetryAfterFailure { get; set; } = TimeSpan.FromSeconds(15);
}
