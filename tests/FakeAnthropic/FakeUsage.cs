namespace FakeAnthropic;

/// <summary>
/// Token usage a scripted reply reports instead of its fixture's, in the API's own terms
/// (<c>input_tokens</c> excludes cached tokens; cache writes split by TTL).
/// </summary>
/// <param name="InputTokens">Uncached input tokens after the last cache breakpoint.</param>
/// <param name="OutputTokens">Output tokens (final count; streams report it in <c>message_delta</c>).</param>
/// <param name="CacheWrite5mTokens">Tokens written to the 5-minute cache.</param>
/// <param name="CacheWrite1hTokens">Tokens written to the 1-hour cache.</param>
/// <param name="CacheReadTokens">Tokens read from the cache.</param>
/// <param name="ServiceTier">The <c>service_tier</c> value (<c>standard</c>, <c>priority</c>, <c>batch</c>).</param>
/// <param name="Speed">The <c>speed</c> value, or null to leave the fixture's (absent) value.</param>
/// <param name="InferenceGeo">The <c>inference_geo</c> value, or null to leave the fixture's value.</param>
/// <param name="WebSearchRequests">
/// <c>server_tool_use.web_search_requests</c>: web searches the reply says the API ran (billed per search). With this
/// or <paramref name="WebFetchRequests"/> above 0 the usage carries a <c>server_tool_use</c> object: in the JSON body,
/// and in a stream's <c>message_delta</c> only (the searches run after <c>message_start</c>).
/// </param>
/// <param name="WebFetchRequests"><c>server_tool_use.web_fetch_requests</c>: web fetches the reply says the API ran.</param>
public sealed record FakeUsage(
    long InputTokens,
    long OutputTokens,
    long CacheWrite5mTokens = 0,
    long CacheWrite1hTokens = 0,
    long CacheReadTokens = 0,
    string ServiceTier = "standard",
    string? Speed = null,
    string? InferenceGeo = null,
    long WebSearchRequests = 0,
    long WebFetchRequests = 0)
{
    /// <summary><c>cache_creation_input_tokens</c>: the sum of the 5-minute and 1-hour writes.</summary>
    public long CacheCreationInputTokens => CacheWrite5mTokens + CacheWrite1hTokens;

    /// <summary>Whether the usage reports a <c>server_tool_use</c> object.</summary>
    public bool HasServerToolUse => WebSearchRequests > 0 || WebFetchRequests > 0;
}
