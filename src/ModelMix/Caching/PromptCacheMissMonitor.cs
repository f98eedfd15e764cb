using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Pricing;
using ModelMix.Telemetry;

namespace ModelMix.Caching;

/// <summary>
/// Reports silent non-caching: a call that carried <c>cache_control</c> breakpoints but whose usage shows neither a
/// cache write nor a cache read (the prefix was below the model's minimum, or something before a breakpoint changes
/// on every call). Each such call counts in <c>modelmix_cache_miss_unexpected_total</c>; a warning is logged once
/// per prefix (by hash), so a hot path that never caches does not flood the log.
/// </summary>
public sealed partial class PromptCacheMissMonitor
{
    /// <summary>The most prefix hashes remembered; past it the memory starts over (a prefix may then be logged again).</summary>
    public const int MaxRememberedPrefixes = 4_096;

    private readonly ModelMixMetrics? _metrics;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<ulong, byte> _logged = new();
    private long _count;

    /// <summary>Creates the monitor.</summary>
    /// <param name="metrics">Where the counter lives; none when null.</param>
    /// <param name="logger">Where the once-per-prefix warning goes; none when null.</param>
    public PromptCacheMissMonitor(ModelMixMetrics? metrics = null, ILogger<PromptCacheMissMonitor>? logger = null)
    {
        _metrics = metrics;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>The number of unexpected misses seen by this monitor.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>
    /// Checks one answered call. Returns true (and counts it) when the request carried breakpoints and the usage
    /// shows no cache activity. Calls that consumed no tokens at all (errors) are ignored.
    /// </summary>
    /// <param name="carriedBreakpoints">Whether the request sent upstream had at least one <c>cache_control</c>.</param>
    /// <param name="prefixHash">A hash of the prompt prefix up to the last breakpoint, for logging once per prefix.</param>
    /// <param name="model">The model that answered.</param>
    /// <param name="usage">The call's usage.</param>
    /// <param name="requestId">The request's id, for the log line.</param>
    public bool Observe(bool carriedBreakpoints, ulong prefixHash, string model, in TokenUsage usage, string? requestId = null)
    {
        if (!carriedBreakpoints
            || usage.TotalInputTokens + usage.OutputTokens == 0
            || usage.CacheWrite5mTokens + usage.CacheWrite1hTokens + usage.CacheReadTokens > 0)
        {
            return false;
        }

        Interlocked.Increment(ref _count);
        _metrics?.CountUnexpectedCacheMiss(model);
        if (_logged.Count >= MaxRememberedPrefixes)
        {
            _logged.Clear();
        }

        if (_logged.TryAdd(prefixHash, 0))
        {
            UnexpectedMiss(_logger, model, prefixHash, usage.InputTokens, requestId);
        }

        return true;
    }

    /// <summary>FNV-1a (64-bit) of <paramref name="bytes"/>: a cheap, allocation-free prefix hash.</summary>
    /// <param name="bytes">The bytes to hash.</param>
    public static ulong Hash(ReadOnlySpan<byte> bytes)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }

    [LoggerMessage(EventId = 9501, Level = LogLevel.Warning,
        Message = "Prompt caching did nothing on {Model}: the request carried cache_control breakpoints but the usage shows neither a cache write nor a read ({InputTokens} uncached input tokens; prefix {PrefixHash:x16}; request {RequestId}). The marked prefix is below the model's minimum cacheable length, or something before a breakpoint changes on every call. Logged once per prefix.")]
    private static partial void UnexpectedMiss(ILogger logger, string model, ulong prefixHash, long inputTokens, string? requestId);
}
