namespace ModelMix.Caching;

/// <summary>
/// Where and how <see cref="CacheBreakpointPlanner"/> adds <c>cache_control</c> breakpoints. The defaults (5-minute
/// TTL, up to 4 breakpoints, on tools, system and the earlier conversation) suit an interactive multi-turn app.
/// </summary>
public sealed class PromptCachingOptions
{
    /// <summary>The most breakpoints the API accepts in one request.</summary>
    public const int ApiMaxBreakpoints = 4;

    /// <summary>The TTL of the breakpoints the planner adds; 1 hour suits batch work and slow agents.</summary>
    public PromptCacheTtl Ttl { get; set; } = PromptCacheTtl.FiveMinutes;

    /// <summary>The most breakpoints a request may carry, counting the caller's own (0 to 4).</summary>
    public int MaxBreakpoints { get; set; } = ApiMaxBreakpoints;

    /// <summary>Whether to place a breakpoint on the last tool definition.</summary>
    public bool CacheTools { get; set; } = true;

    /// <summary>Whether to place a breakpoint on the last system block (a string system prompt becomes one block).</summary>
    public bool CacheSystem { get; set; } = true;

    /// <summary>Whether to place a breakpoint on the last block of the second-to-last user turn of a conversation.</summary>
    public bool CacheConversation { get; set; } = true;
}
