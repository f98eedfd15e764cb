namespace ModelMix.Audit;

/// <summary>Prompt caching: how much input came from the cache, and what that saved at the price book's rates.</summary>
/// <param name="PromptTokens">All prompt tokens: uncached input, cache writes and cache reads.</param>
/// <param name="CacheReadTokens">Tokens read from the cache.</param>
/// <param name="CacheWriteTokens">Tokens written to the cache (5-minute and 1-hour).</param>
/// <param name="TokenHitRate">Cache reads ÷ prompt tokens (0–1).</param>
/// <param name="CallsWithCacheRead">Records that read anything from the cache.</param>
/// <param name="CallHitRate">Those records ÷ all records with tokens (0–1).</param>
/// <param name="ReadSavingsUsd">What the cache reads would have cost as uncached input, minus what they cost.</param>
/// <param name="WritePremiumUsd">What the cache writes cost beyond the same tokens as uncached input.</param>
/// <param name="NetSavingsUsd">Read savings minus the write premium.</param>
internal sealed record AuditCacheStats(
    long PromptTokens,
    long CacheReadTokens,
    long CacheWriteTokens,
    decimal TokenHitRate,
    long CallsWithCacheRead,
    decimal CallHitRate,
    decimal ReadSavingsUsd,
    decimal WritePremiumUsd,
    decimal NetSavingsUsd);
