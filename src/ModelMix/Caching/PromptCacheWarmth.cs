namespace ModelMix.Caching;

/// <summary>
/// A session's prompt prefix that is warm in one model's cache: which model, how many tokens the API reported as
/// cached (written or read) on the last call, and until when the entry lives.
/// </summary>
/// <param name="Model">The model the prefix is cached on (caches are per model).</param>
/// <param name="PrefixTokens">The cached prefix in tokens (<c>cache_creation_input_tokens + cache_read_input_tokens</c> of the last call).</param>
/// <param name="ExpiresAt">When the cache entry lapses unless it is used again (last use + its TTL).</param>
public sealed record PromptCacheWarmth(string Model, long PrefixTokens, DateTimeOffset ExpiresAt);
