using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Caching;
using ModelMix.Hosting;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Routing;
using ModelMix.Stores;
using ModelMix.Telemetry;

namespace ModelMix.Server;

/// <summary>
/// Prompt caching at the proxy door (<c>/v1/messages</c>, <c>/v1/chat/completions</c> and <c>/v1/responses</c>, which share
/// <see cref="ProxyPipeline.ForwardAsync"/>): after routing, keeps a cache-warm session on its model unless
/// switching pays (<see cref="CacheAwareRouting"/>), adds <c>cache_control</c> breakpoints for the routed model
/// (<see cref="CacheBreakpointPlanner.ApplyUtf8"/>, byte-faithful), and after each answered attempt records the
/// session's warm prefix and reports silent non-caching (<see cref="PromptCacheMissMonitor"/>).
/// </summary>
/// <remarks>
/// Hot path: a body too short to reach the routed model's minimum cacheable length (its UTF-8 length bounds the
/// planner's estimate) and carrying no image or document is forwarded as is without being parsed again; the answer
/// side looks at the body only when the usage shows no cache activity.
/// </remarks>
internal sealed class ProxyPromptCaching
{
    private static readonly byte[] CacheControlToken = "\"cache_control\""u8.ToArray();

    private readonly CachingOptions _options;
    private readonly PriceBook _prices;
    private readonly CacheBreakpointPlanner _planner;
    private readonly CacheBreakpointPlanner _planner1h;
    private readonly CacheAwareRouting? _routing;
    private readonly PromptCacheMissMonitor _misses;
    private readonly ILogger<ProxyPromptCaching> _logger;

    public ProxyPromptCaching(IOptions<CachingOptions> options, PriceBook prices, IPromptCacheWarmStore store, ModelMixMetrics metrics, TimeProvider time, ILoggerFactory loggers)
    {
        _options = options.Value;
        _prices = prices;
        var ttl = _options.ParsedTtl ?? PromptCacheTtl.FiveMinutes;
        _planner = new CacheBreakpointPlanner(prices, _options.ToPlannerOptions(ttl));
        _planner1h = ttl == PromptCacheTtl.OneHour ? _planner : new CacheBreakpointPlanner(prices, _options.ToPlannerOptions(PromptCacheTtl.OneHour));
        _routing = _options.CacheAwareRouting
            ? new CacheAwareRouting(prices, store, new CacheAwareRoutingOptions { Ttl = ttl, AssumedOutputTokens = _options.AssumedOutputTokens, HoldAgainstEscalation = _options.HoldAgainstEscalation }, time)
            : null;
        _misses = new PromptCacheMissMonitor(metrics, loggers.CreateLogger<PromptCacheMissMonitor>());
        _logger = loggers.CreateLogger<ProxyPromptCaching>();
    }

    /// <summary>
    /// Registers the options (validated at start), the warm store (shared through PostgreSQL when the proxy's store is
    /// PostgreSQL, else in memory: <see cref="StoreLocation.CreatePromptCacheWarmStore(TimeProvider?, ILoggerFactory?, PromptCacheWarmStoreOptions?)"/>,
    /// tuned by <see cref="CachingOptions.ToWarmStoreOptions"/>) and this service.
    /// </summary>
    public static void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        ModelMixSections.AddCaching(services, configuration); // ModelMix:Caching: the library's CachingOptions, bound and checked as AddModelMix does
        services.AddSingleton(provider => provider.GetRequiredService<StoreLocation>().CreatePromptCacheWarmStore(
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILoggerFactory>(),
            provider.GetRequiredService<IOptions<CachingOptions>>().Value.ToWarmStoreOptions()));
        services.AddHostedService<ProxyWarmStoreStartup>(); // migrates the shared warm table at start (PostgreSQL only)
        services.AddSingleton<ProxyPromptCaching>();
    }

    /// <summary>The unexpected-miss monitor (its count, for tests and diagnostics).</summary>
    public PromptCacheMissMonitor Misses => _misses;

    /// <summary>Cache-aware routing: the policy's decision, or the session's warm model when switching would cost more.</summary>
    public ValueTask<RoutingDecision> RouteAsync(RoutingDecision decision, RoutingRequest features, CancellationToken cancellationToken) =>
        _routing is null ? ValueTask.FromResult(decision) : _routing.AdjustAsync(decision, features, cancellationToken);

    /// <summary>
    /// The body with breakpoints for <paramref name="model"/> (the same array when nothing is added or caching is off).
    /// A body the planner cannot read goes on unchanged: the upstream judges it.
    /// </summary>
    public byte[] Apply(byte[] body, string model, PromptCacheTtl? ttl = null)
    {
        if (!_options.Enabled || _options.MaxBreakpoints == 0
            || !_prices.TryGetEntry(model, out var entry) || entry.MinCacheableTokens is not { } minimum)
        {
            return body;
        }

        // The planner's estimate of a body without media is at most (UTF-8 length × 2 + 6) / 7 (characters ÷ 3.5,
        // never more characters than bytes); below the minimum nothing can be marked, so skip the parse.
        if (((long)body.Length * 2 + 6) / 7 < minimum && !HasMedia(body))
        {
            return body;
        }

        try
        {
            var planner = ttl == PromptCacheTtl.OneHour ? _planner1h : _planner;
            var result = planner.ApplyUtf8(body, model);
            if (!result.Plan.Changed)
            {
                return body;
            }

            return MemoryMarshal.TryGetArray(result.Body, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
                ? segment.Array
                : result.Body.ToArray();
        }
        catch (CachePlanningException exception)
        {
            ProxyCachingLog.NotPlanned(_logger, model, exception.Message);
            return body;
        }
    }

    /// <summary>
    /// After an answered attempt: a cache write or read makes the session's prefix warm on the answering model; a
    /// request that carried breakpoints but shows neither counts as an unexpected miss (logged once per prefix).
    /// </summary>
    public ValueTask ObserveAsync(ReadOnlySpan<byte> sentBody, LedgerRecord record)
    {
        if (record.Status != LedgerStatus.Ok)
        {
            return ValueTask.CompletedTask;
        }

        var usage = record.Usage;
        var model = record.ResponseModel ?? record.RoutedModel;
        if (usage.CacheWrite5mTokens + usage.CacheWrite1hTokens + usage.CacheReadTokens > 0)
        {
            return _routing?.ObserveAsync(SessionScope.Of(record.KeyId, record.SessionId), model, usage) ?? ValueTask.CompletedTask; // per key
        }

        var last = sentBody.LastIndexOf(CacheControlToken);
        if (last >= 0)
        {
            _misses.Observe(true, PromptCacheMissMonitor.Hash(sentBody[..last]) ^ PromptCacheMissMonitor.Hash(System.Text.Encoding.UTF8.GetBytes(model)), model, usage, record.RequestId);
        }

        return ValueTask.CompletedTask;
    }

    private static bool HasMedia(ReadOnlySpan<byte> body) =>
        body.IndexOf("\"image\""u8) >= 0 || body.IndexOf("\"document\""u8) >= 0;
}

internal static partial class ProxyCachingLog
{
    [LoggerMessage(9510, LogLevel.Debug, "No cache breakpoints planned for {Model}: {Problem}")]
    public static partial void NotPlanned(ILogger logger, string model, string problem);
}
