namespace ModelMix.Caching;

/// <summary>One <c>cache_control</c> breakpoint of a request, the caller's or one the planner added.</summary>
/// <param name="Location">The part of the request it sits in.</param>
/// <param name="Path">Where it sits, e.g. <c>tools[1]</c>, <c>system[0]</c> or <c>messages[2].content[0]</c>.</param>
/// <param name="Ttl">Its time to live.</param>
/// <param name="PrefixTokens">The estimated tokens of the prompt prefix up to and including the marked block.</param>
/// <param name="SetByCaller">True for a breakpoint the request already carried.</param>
public sealed record CacheBreakpoint(
    CacheBreakpointLocation Location,
    string Path,
    PromptCacheTtl Ttl,
    long PrefixTokens,
    bool SetByCaller);
