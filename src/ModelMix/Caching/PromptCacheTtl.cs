namespace ModelMix.Caching;

/// <summary>How long a prompt-cache entry lives: the API's two <c>cache_control.ttl</c> values.</summary>
public enum PromptCacheTtl
{
    /// <summary>Five minutes (<c>"5m"</c>, the API default); writes cost 1.25× the input price.</summary>
    FiveMinutes,

    /// <summary>One hour (<c>"1h"</c>); writes cost 2× the input price. Must come before any 5-minute breakpoint.</summary>
    OneHour,
}
