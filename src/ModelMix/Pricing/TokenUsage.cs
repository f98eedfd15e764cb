namespace ModelMix.Pricing;

/// <summary>
/// The billable token counts and billing modifiers of one Anthropic API call, as reported in its <c>usage</c> object.
/// Cache writes are split by TTL because a 1-hour write costs more than a 5-minute one.
/// </summary>
/// <param name="InputTokens">Uncached input tokens (<c>usage.input_tokens</c>).</param>
/// <param name="OutputTokens">Output tokens (<c>usage.output_tokens</c>).</param>
/// <param name="CacheWrite5mTokens">Tokens written to the 5-minute cache (<c>cache_creation.ephemeral_5m_input_tokens</c>).</param>
/// <param name="CacheWrite1hTokens">Tokens written to the 1-hour cache (<c>cache_creation.ephemeral_1h_input_tokens</c>).</param>
/// <param name="CacheReadTokens">Tokens read from the cache (<c>usage.cache_read_input_tokens</c>).</param>
/// <param name="ServiceTier">The tier that served the call (<c>usage.service_tier</c>); batch halves every rate.</param>
/// <param name="Speed">The output speed (<c>usage.speed</c>); fast mode multiplies every rate on models that offer it.</param>
/// <param name="InferenceGeo">Where inference ran (<c>usage.inference_geo</c>); <c>"us"</c> carries the data-residency multiplier.</param>
/// <param name="WebSearchRequests">
/// Web searches the API ran for the call (<c>usage.server_tool_use.web_search_requests</c>), billed per search on top
/// of the tokens (the price book's <c>serverTools</c>).
/// </param>
/// <param name="WebFetchRequests">Web fetches the API ran for the call (<c>usage.server_tool_use.web_fetch_requests</c>).</param>
public readonly record struct TokenUsage(
    long InputTokens,
    long OutputTokens,
    long CacheWrite5mTokens = 0,
    long CacheWrite1hTokens = 0,
    long CacheReadTokens = 0,
    ServiceTier ServiceTier = ServiceTier.Standard,
    Speed Speed = Speed.Standard,
    string? InferenceGeo = null,
    long WebSearchRequests = 0,
    long WebFetchRequests = 0)
{
    /// <summary>All tokens of the prompt: uncached input, cache writes and cache reads (what the long-context threshold counts).</summary>
    public long TotalInputTokens => InputTokens + CacheWrite5mTokens + CacheWrite1hTokens + CacheReadTokens;

    /// <summary>Whether the call used a server tool the API counts in <c>usage.server_tool_use</c>.</summary>
    public bool HasServerToolUse => (WebSearchRequests | WebFetchRequests) != 0;
}
