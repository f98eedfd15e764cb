using ModelMix.Caching;

namespace ModelMix.Postgres;

/// <summary>
/// Tuning of <c>PostgresPromptCacheWarmStore</c> (package <c>ModelMix.Postgres</c>): the settings of every warm store
/// (<see cref="PromptCacheWarmStoreOptions"/>: how long a replica reuses what it read, how it behaves while the database
/// cannot be reached) and how often expired rows are pruned. The defaults suit a proxy replica.
/// </summary>
public sealed class PostgresPromptCacheWarmStoreOptions : PromptCacheWarmStoreOptions
{
    /// <summary>How often the store deletes rows whose warmth has expired (default 1 minute).</summary>
    public TimeSpan PruneInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Throws when a value is out of range, naming it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative cache TTL, or a non-positive interval or timeout.</exception>
    [Obsolete("Checked at start by its IValidateOptions validator (registered by AddModelMix and the proxy); this method goes in the next release.")]
    public void Validate() => PostgresPromptCacheWarmStoreOptionsValidator.ThrowIfInvalid(this);

    /// <summary>
    /// <paramref name="options"/> as the PostgreSQL store's options: the same instance when it is one already, else its
    /// settings with this class's defaults for the rest (null stays null: the store's defaults).
    /// </summary>
    internal static PostgresPromptCacheWarmStoreOptions? From(PromptCacheWarmStoreOptions? options) => options switch
    {
        null => null,
        PostgresPromptCacheWarmStoreOptions postgres => postgres,
        _ => new PostgresPromptCacheWarmStoreOptions
        {
            LocalCacheTtl = options.LocalCacheTtl,
            ReadTimeout = options.ReadTimeout,
            RetryAfterFailure = options.RetryAfterFailure,
        },
    };
}
