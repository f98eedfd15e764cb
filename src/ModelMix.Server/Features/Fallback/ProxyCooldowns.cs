using ModelMix.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Cooldowns;
using ModelMix.Pricing;

namespace ModelMix.Server;

/// <summary>
/// Cooldowns in the proxy: a 429 or 529 from the upstream marks the model as cooling down until its
/// <c>retry-after</c> passes (or <see cref="ProxyOptions.CooldownWithoutRetryAfter"/>), in the store every replica
/// shares; while it cools, requests routed to it start on the next model of the fallback chain instead, and a
/// fallback skips it. Without a fallback chain there is nowhere else to go, so the store is not even read. The
/// store is advisory: when it cannot be reached, requests go where they would have gone without it.
/// </summary>
internal sealed partial class ProxyCooldowns(ICooldownStore store, ProxyFallback fallback, PriceBook prices, IOptions<ProxyOptions> options, TimeProvider time, ILogger<ProxyCooldowns> logger)
{
    /// <summary>Cooldowns are kept under the model's canonical id, so an alias and its dated snapshot share one.</summary>
    private string Canonical(string model) => prices.TryResolveId(model, out var id) ? id : model;

    /// <summary>Records a 429 or 529 answer of <paramref name="model"/>; any other status is ignored.</summary>
    public async Task NoteAsync(string model, int status, TimeSpan? retryAfter)
    {
        if (status is not (429 or 529))
        {
            return;
        }

        var wait = retryAfter is { } after && after > TimeSpan.Zero ? after : options.Value.CooldownWithoutRetryAfter;
        try
        {
            await store.CoolDownAsync(Canonical(model), time.GetUtcNow() + wait, CancellationToken.None);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            StoreFailed(logger, exception.GetType().Name);
        }
    }

    /// <summary>
    /// Where a request routed to <paramref name="model"/> should start instead, because <paramref name="model"/> is
    /// cooling down and the fallback chain has a model that is not; null to keep <paramref name="model"/>.
    /// </summary>
    public async Task<string?> InsteadOfAsync(string model, bool budgetHeld, RoutingRequest request)
    {
        if (fallback.Chain.Count == 0)
        {
            return null;
        }

        var active = await ActiveAsync();
        if (active.Count == 0 || !active.ContainsKey(Canonical(model)))
        {
            return null;
        }

        var tried = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { model };
        return FirstNotCooling(model, overflow: false, tried, budgetHeld, active, keepCoolingFirst: false, request);
    }

    /// <summary>
    /// The fallback chain's next model after <paramref name="failed"/> (<see cref="ProxyFallback.Next"/>), passing
    /// over models that are cooling down; when every remaining one is cooling, the first of them (it may have recovered).
    /// </summary>
    public async Task<string?> NextAsync(string failed, bool overflow, IReadOnlySet<string> tried, bool budgetHeld, RoutingRequest request)
    {
        if (overflow || fallback.Chain.Count == 0)
        {
            return fallback.Next(failed, overflow, tried, budgetHeld, time.GetUtcNow(), request);
        }

        var active = await ActiveAsync();
        return FirstNotCooling(failed, overflow, new HashSet<string>(tried, StringComparer.OrdinalIgnoreCase), budgetHeld, active, keepCoolingFirst: true, request);
    }

    private string? FirstNotCooling(string from, bool overflow, HashSet<string> tried, bool budgetHeld, IReadOnlyDictionary<string, DateTimeOffset> active, bool keepCoolingFirst, in RoutingRequest request)
    {
        string? firstCooling = null;
        while (fallback.Next(from, overflow, tried, budgetHeld, time.GetUtcNow(), request) is { } candidate)
        {
            if (!active.ContainsKey(Canonical(candidate)))
            {
                return candidate;
            }

            firstCooling ??= candidate;
            tried.Add(candidate);
        }

        return keepCoolingFirst ? firstCooling : null;
    }

    private async Task<IReadOnlyDictionary<string, DateTimeOffset>> ActiveAsync()
    {
        try
        {
            return await store.GetActiveAsync(time.GetUtcNow(), CancellationToken.None);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            StoreFailed(logger, exception.GetType().Name);
            return new Dictionary<string, DateTimeOffset>();
        }
    }

    [LoggerMessage(8, LogLevel.Warning, "The cooldown store could not be used ({Error}); requests are routed without cooldowns.")]
    private static partial void StoreFailed(ILogger logger, string error);
}
