namespace ModelMix.Postgres;

/// <summary>
/// Tuning of <c>PostgresPromptCacheWarmStore</c> (package <c>ModelMix.Postgres</c>): how long a replica reuses what it read, how often expired
/// rows are pruned, and how it behaves while the database cannot be reached. The defaults suit a proxy replica.
/// </summary>
public sealed class PostgresPromptCacheWarmStoreOptions
{
    /// <summary>
    /// How long a session's warmth read from the database (or written by this replica) is reused without reading it
    /// again (default 1 second; zero reads the database on every lookup). It bounds how stale a replica's view of a
    /// session another replica just moved can be.
    /// </summary>
    public TimeSpan LocalCacheTtl { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the store deletes rows whose warmth has expired (default 1 minute).</summary>
    public TimeSpan PruneInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The longest a lookup waits for the database before it answers from local state (default 2 seconds).</summary>
    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>After a failed call, how long the store answers from local state only before trying the database again (default 15 seconds).</summary>
    public TimeSpan RetryAfterFailure { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Throws when a value is out of range, naming it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative cache TTL, or a non-positive interval or timeout.</exception>
    [Obsolete("Checked at start by its IValidateOptions validator (registered by AddModelMix and the proxy); this method goes in the next release.")]
    public void Validate() => PostgresPromptCacheWarmStoreOptionsValidator.ThrowIfInvalid(this);
}
