namespace ModelMix.Caching;

/// <summary>
/// Remembers, per session, which model holds the session's warm prompt prefix, so routing can keep the session
/// there (see <see cref="CacheAwareRouting"/>). Entries expire with the cache TTL. Implementations must be
/// thread-safe; a shared store (PostgreSQL) lets several proxy replicas agree.
/// </summary>
public interface IPromptCacheWarmStore
{
    /// <summary>The session's warm prefix, or null when none is known or it has expired at <paramref name="now"/>.</summary>
    /// <param name="sessionId">The session (agent run, conversation).</param>
    /// <param name="now">The current time.</param>
    /// <param name="cancellationToken">Cancels a store that calls out.</param>
    ValueTask<PromptCacheWarmth?> GetAsync(string sessionId, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Records (or replaces) the session's warm prefix.</summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="warmth">The model, prefix size and expiry.</param>
    /// <param name="cancellationToken">Cancels a store that calls out.</param>
    ValueTask SetAsync(string sessionId, PromptCacheWarmth warmth, CancellationToken cancellationToken = default);
}
