using System.Globalization;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Caching;

/// <summary>
/// Makes routing cache-aware. Prompt caches are per model, so moving a session whose prefix is warm on one model to
/// another discards the warm cache and pays to write the prefix again. Given the routing policy's decision,
/// <see cref="AdjustAsync"/> keeps the session on its warm model unless the policy's gain (the cheaper model) beats
/// that loss, both estimated from the price book, and says so in the decision's reason. <see cref="ObserveAsync"/>
/// feeds it the usage of every call.
/// </summary>
internal sealed class CacheAwareRouting
{
    /// <summary>The <see cref="RoutingDecision.Policy"/> of a decision that kept a session on its warm model.</summary>
    public const string PolicyName = "cache-warm";

    private readonly PriceBook _prices;
    private readonly IPromptCacheWarmStore _store;
    private readonly CacheAwareRoutingOptions _options;
    private readonly TimeProvider _time;

    /// <summary>Creates the adjuster.</summary>
    /// <param name="prices">Rates and minimum cacheable lengths.</param>
    /// <param name="store">Where each session's warm prefix is remembered.</param>
    /// <param name="options">Options; defaults when null.</param>
    /// <param name="time">The clock for cache expiry; the system clock when null.</param>
    public CacheAwareRouting(PriceBook prices, IPromptCacheWarmStore store, CacheAwareRoutingOptions? options = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(store);
        _prices = prices;
        _store = store;
        _options = options ?? new CacheAwareRoutingOptions();
        _time = time ?? TimeProvider.System;
        if (_options.AssumedOutputTokens < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.AssumedOutputTokens, "Caching:AssumedOutputTokens must not be negative.");
        }
    }

    /// <summary>The store of warm prefixes.</summary>
    public IPromptCacheWarmStore Store => _store;

    /// <summary>
    /// Returns <paramref name="decision"/>, or a decision for the session's warm model when switching away would cost
    /// more than staying. Requests without a session, pinned decisions and sessions with no warm prefix pass unchanged.
    /// </summary>
    /// <param name="decision">The routing policy's decision.</param>
    /// <param name="request">The request's features (session, token estimate, max_tokens).</param>
    /// <param name="cancellationToken">Cancels a store that calls out.</param>
    public async ValueTask<RoutingDecision> AdjustAsync(RoutingDecision decision, RoutingRequest request, CancellationToken cancellationToken = default)
    {
        if (!_options.Enabled || request.SessionId is not { Length: > 0 } session || decision.Policy == PinnedPolicy.DefaultName)
        {
            return decision;
        }

        var now = _time.GetUtcNow();
        var warm = await _store.GetAsync(SessionScope.Of(request.KeyId, session)!, now, cancellationToken).ConfigureAwait(false); // per key
        if (warm is null
            || !_prices.TryResolveId(decision.Model, out var chosen)
            || !_prices.TryResolveId(warm.Model, out var warmModel)
            || string.Equals(chosen, warmModel, StringComparison.Ordinal))
        {
            return decision;
        }

        var output = Math.Min(request.MaxTokens ?? _options.AssumedOutputTokens, _options.AssumedOutputTokens);
        CacheSwitchEstimate estimate;
        decimal warmInputRate, chosenInputRate;
        try
        {
            estimate = Estimate(warmModel, chosen, warm.PrefixTokens, request.EstimatedInputTokens, output, now);
            warmInputRate = _prices.Cost(warmModel, new TokenUsage(1_000_000, 0), now).Total;
            chosenInputRate = _prices.Cost(chosen, new TokenUsage(1_000_000, 0), now).Total;
        }
        catch (PricingException)
        {
            return decision; // a model without a price in force: no estimate, the policy's choice stands
        }

        var extra = estimate.ExtraCostOfSwitching;
        var prefix = string.Create(CultureInfo.InvariantCulture, $"~{warm.PrefixTokens:N0} tokens");

        // Preserved thinking: a model that cannot read the warm model's thinking blocks drops them and thinks again, so
        // switching also loses that reasoning — estimated as the assumed output again, at the chosen model's output rate.
        var thinkingLost = request.Traits.CarriesThinking && !CanReadThinking(chosen, warmModel);
        var lostReasoning = 0m;
        if (thinkingLost)
        {
            lostReasoning = _prices.Cost(chosen, new TokenUsage(0, output), now).Total;
            extra += lostReasoning;
        }

        var thinkingNote = thinkingLost
            ? string.Create(CultureInfo.InvariantCulture, $", and {chosen} cannot read its thinking blocks (est. {Money(lostReasoning)} to think again)")
            : string.Empty;
        if (chosenInputRate > warmInputRate && !_options.HoldAgainstEscalation)
        {
            return decision with
            {
                Reason = decision.Reason + string.Create(CultureInfo.InvariantCulture, $"; leaves the cache warm on {warmModel} ({prefix}){thinkingNote} for a stronger model, est. {Money(extra)} more than staying"),
            };
        }

        if (extra > 0m)
        {
            // The policy chose a cheaper model, so it judged this turn easy: keep the cache and the thinking on the
            // stronger warm model, but at low effort, unless the caller or the policy set an effort.
            var effort = chosenInputRate < warmInputRate && decision.Effort == Catalog.EffortLevel.Unspecified
                && request.Traits.Effort == Catalog.EffortLevel.Unspecified && _prices.TryGetEntry(warmModel, out var warmEntry)
                ? Catalog.ModelFit.Clamp(warmEntry.Rules, Catalog.EffortLevel.Low)
                : decision.Effort;
            var effortNote = effort == Catalog.EffortLevel.Low && decision.Effort != Catalog.EffortLevel.Low
                ? $"; at low effort, since the policy judged the turn easy enough for {chosen}"
                : string.Empty;
            return new RoutingDecision(
                warmModel,
                string.Create(CultureInfo.InvariantCulture, $"cache-warm on {warmModel} ({prefix} cached{thinkingNote}): switching to {chosen} would cost {Money(extra)} more (est. {Money(estimate.StayCost)} vs {Money(estimate.SwitchCost + lostReasoning)}){effortNote}; the policy said: {decision.Reason}"),
                decision.Confidence,
                PolicyName)
            {
                Effort = effort,
            };
        }

        return decision with
        {
            Reason = decision.Reason + string.Create(CultureInfo.InvariantCulture, $"; switching from cache-warm {warmModel} ({prefix}) still saves est. {Money(-extra)}"),
        };
    }

    /// <summary>
    /// Whether <paramref name="reader"/> can read thinking blocks that <paramref name="producer"/> made: always, unless the
    /// catalog says its thinking is tied to the model (preserved thinking) and <paramref name="producer"/> is not among
    /// the models it reads.
    /// </summary>
    /// <param name="reader">The model the next request would go to.</param>
    /// <param name="producer">The model that produced the conversation's thinking blocks.</param>
    public bool CanReadThinking(string reader, string producer) => ThinkingAffinity.CanRead(_prices, reader, producer);

    /// <summary>
    /// Estimates the next call on the warm model (prefix read from cache) and on the chosen one (prefix written again,
    /// or paid as plain input when it is below the chosen model's minimum cacheable length).
    /// </summary>
    /// <param name="warmModel">The model the prefix is cached on.</param>
    /// <param name="chosenModel">The model the policy chose.</param>
    /// <param name="prefixTokens">The cached prefix.</param>
    /// <param name="inputTokens">The whole prompt's estimated tokens (at least the prefix).</param>
    /// <param name="outputTokens">The assumed output tokens.</param>
    /// <param name="at">The time whose prices apply.</param>
    /// <exception cref="PricingException">A model has no price in force at <paramref name="at"/>.</exception>
    public CacheSwitchEstimate Estimate(string warmModel, string chosenModel, long prefixTokens, long inputTokens, long outputTokens, DateTimeOffset at)
    {
        var rest = Math.Max(0, inputTokens - prefixTokens);
        var stay = _prices.Cost(warmModel, new TokenUsage(rest, outputTokens, CacheReadTokens: prefixTokens), at).Total;
        var cacheable = _prices.TryGetEntry(chosenModel, out var entry) && entry.MinCacheableTokens is { } minimum && prefixTokens >= minimum;
        var switchUsage = !cacheable
            ? new TokenUsage(rest + prefixTokens, outputTokens)
            : _options.Ttl == PromptCacheTtl.OneHour
                ? new TokenUsage(rest, outputTokens, CacheWrite1hTokens: prefixTokens)
                : new TokenUsage(rest, outputTokens, CacheWrite5mTokens: prefixTokens);
        var change = _prices.Cost(chosenModel, switchUsage, at).Total;
        return new CacheSwitchEstimate(warmModel, chosenModel, prefixTokens, stay, change);
    }

    /// <summary>
    /// Records what a call's usage says about the session's cache: a write or a read on <paramref name="model"/>
    /// makes its prefix warm there until the TTL runs out (1 hour when anything was written with the 1-hour TTL).
    /// </summary>
    /// <param name="sessionId">The call's session; nothing is recorded without one.</param>
    /// <param name="model">The model that answered.</param>
    /// <param name="usage">The call's usage.</param>
    /// <param name="cancellationToken">Cancels a store that calls out.</param>
    public ValueTask ObserveAsync(string? sessionId, string model, TokenUsage usage, CancellationToken cancellationToken = default)
    {
        var cached = usage.CacheWrite5mTokens + usage.CacheWrite1hTokens + usage.CacheReadTokens;
        if (sessionId is not { Length: > 0 } || cached == 0 || !_prices.TryResolveId(model, out var id))
        {
            return ValueTask.CompletedTask;
        }

        var ttl = usage.CacheWrite1hTokens > 0 || _options.Ttl == PromptCacheTtl.OneHour ? TimeSpan.FromHours(1) : TimeSpan.FromMinutes(5);
        return _store.SetAsync(sessionId, new PromptCacheWarmth(id, cached, _time.GetUtcNow() + ttl), cancellationToken);
    }

    private static string Money(decimal amount) => "$" + Math.Round(amount, 6, MidpointRounding.AwayFromZero).ToString("0.######", CultureInfo.InvariantCulture);
}
