using Microsoft.Extensions.Options;

namespace ModelMix.Caching;

/// <summary>
/// <c>ModelMix:Caching</c>, the one options class of the section on both doors: automatic prompt caching (breakpoints
/// for the routed model; the library's <c>UseModelMixPromptCaching</c> stage and the proxy's bodies on
/// <c>/v1/messages</c>, <c>/v1/chat/completions</c> and <c>/v1/responses</c>) and the proxy's cache-aware routing.
/// Bound and checked at start by <c>AddModelMix</c> and by <c>modelmix serve</c> (<see cref="CachingOptionsValidator"/>).
/// </summary>
public sealed class CachingOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix:Caching";

    /// <summary>Whether breakpoints are added (default true; the library's <c>UseModelMix</c> adds the stage when the section is present and this is not false).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The TTL of added breakpoints: <c>5m</c> (default) or <c>1h</c>.</summary>
    public string Ttl { get; set; } = "5m";

    /// <summary>The most breakpoints per request, the caller's included (0 to 4, default 4).</summary>
    public int MaxBreakpoints { get; set; } = PromptCachingOptions.ApiMaxBreakpoints;

    /// <summary>Whether the last tool definition gets a breakpoint.</summary>
    public bool CacheTools { get; set; } = true;

    /// <summary>Whether the last system block gets a breakpoint.</summary>
    public bool CacheSystem { get; set; } = true;

    /// <summary>Whether the second-to-last user turn gets a breakpoint.</summary>
    public bool CacheConversation { get; set; } = true;

    /// <summary>
    /// Whether a session (<c>x-modelmix-session</c>) stays on the model its prefix is warm on unless switching pays
    /// (default true). The proxy's routing; the library has no cache-aware routing stage and ignores it.
    /// </summary>
    public bool CacheAwareRouting { get; set; } = true;

    /// <summary>The output tokens assumed when cache-aware routing compares two models (default 1,024; the proxy's).</summary>
    public long AssumedOutputTokens { get; set; } = 1_024;

    /// <summary>Whether cache-aware routing also holds a session back from an escalation to a pricier model (default false; the proxy's).</summary>
    public bool HoldAgainstEscalation { get; set; }

    /// <summary>
    /// With a store shared by replicas (PostgreSQL), how long a replica reuses a session's cache warmth read from the
    /// store before reading it again (default 1 second, at most 1 minute; zero reads it on every routed request of a
    /// session): <see cref="PromptCacheWarmStoreOptions.LocalCacheTtl"/> of the proxy's warm store.
    /// </summary>
    public TimeSpan WarmStoreLocalTtl { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The parsed <see cref="Ttl"/>; null when it is not a known value.</summary>
    public PromptCacheTtl? ParsedTtl => Ttl?.Trim().ToLowerInvariant() switch
    {
        "5m" or "fiveminutes" => PromptCacheTtl.FiveMinutes,
        "1h" or "onehour" => PromptCacheTtl.OneHour,
        _ => null,
    };

    /// <summary>The planner's options with <paramref name="ttl"/>.</summary>
    /// <param name="ttl">The TTL of the breakpoints.</param>
    public PromptCachingOptions ToPlannerOptions(PromptCacheTtl ttl) => new()
    {
        Ttl = ttl,
        MaxBreakpoints = MaxBreakpoints,
        CacheTools = CacheTools,
        CacheSystem = CacheSystem,
        CacheConversation = CacheConversation,
    };

    /// <summary>The warm store's options this section sets (<see cref="WarmStoreLocalTtl"/>; the rest their defaults), for any backend.</summary>
    internal PromptCacheWarmStoreOptions ToWarmStoreOptions() => new() { LocalCacheTtl = WarmStoreLocalTtl };

    /// <summary>Whether the configuration has this options' <c>ModelMix:*</c> section (set by its binder, ModelMix.Hosting.ModelMixSections): what turns the prompt-caching stage in <c>UseModelMix</c> (unless <see cref="Enabled"/> is false) on.</summary>
    internal bool Configured { get; set; }
}

/// <summary>Checks <see cref="CachingOptions"/> at start so a bad value fails fast, naming its key; the same check on both doors.</summary>
internal sealed class CachingOptionsValidator : IValidateOptions<CachingOptions>
{
    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, CachingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = Problems(options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>What is wrong with <paramref name="options"/>, one message per key.</summary>
    internal static List<string> Problems(CachingOptions options)
    {
        var failures = new List<string>();
        var section = CachingOptions.SectionName;
        if (options.ParsedTtl is null)
        {
            failures.Add($"{section}:Ttl must be \"5m\" or \"1h\", got '{options.Ttl}'.");
        }

        if (options.MaxBreakpoints is < 0 or > PromptCachingOptions.ApiMaxBreakpoints)
        {
            failures.Add($"{section}:MaxBreakpoints must be between 0 and {PromptCachingOptions.ApiMaxBreakpoints}, got {options.MaxBreakpoints}.");
        }

        if (options.AssumedOutputTokens < 0)
        {
            failures.Add($"{section}:AssumedOutputTokens must not be negative, got {options.AssumedOutputTokens}.");
        }

        if (options.WarmStoreLocalTtl < TimeSpan.Zero || options.WarmStoreLocalTtl > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{section}:WarmStoreLocalTtl must be between 00:00:00 and 00:01:00, got {options.WarmStoreLocalTtl}.");
        }

        return failures;
    }
}
