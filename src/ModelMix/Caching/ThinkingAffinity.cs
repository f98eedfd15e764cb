using System.Collections.Concurrent;
using System.Globalization;
using ModelMix.Catalog;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Caching;

/// <summary>
/// Makes routing thinking-aware without prompt caching (one core for both doors: the proxy's alias path and the
/// library's <c>UseModelMixRouting</c>). On models with preserved thinking a thinking block is read only by the model
/// that made it and the models its catalog row lists in <c>readsFrom</c>; any other model drops it without an error
/// and thinks again (https://platform.claude.com/docs/en/build-with-claude/preserved-thinking). <see cref="Observe"/>
/// remembers, per session, the model whose answer thought last; <see cref="Adjust"/> keeps a conversation that carries
/// thinking blocks on that model when the policy moved it to a cheaper model that cannot read them.
/// </summary>
/// <remarks>
/// <para>
/// The decision is changed only when all hold: the request carries thinking blocks, has a session, the session's last
/// thinking model is known, the policy's model cannot read that model's blocks, the decision is not a pin, the policy's
/// model is not dearer (by input rate) than the thinking model, and the thinking model accepts the request as it is
/// (<see cref="ModelFit"/>). The conversation then stays, at low effort when neither the caller nor the policy set an
/// effort (the policy judged the turn easy), and the reason says why. A pin moves the conversation anyway, and a
/// dearer model (the policy escalated) is taken; the reason then says the blocks will be dropped, and the API's
/// <c>input_transformations</c> are recorded as <c>ThinkingBlocksDropped</c> on the attempt.
/// </para>
/// <para>
/// State is in memory and bounded (<see cref="Capacity"/> sessions, oldest forgotten first); a call without a session
/// is never held. With cache-aware routing on, this runs first and cache-aware routing judges the result.
/// </para>
/// </remarks>
internal sealed class ThinkingAffinity
{
    /// <summary>The <see cref="RoutingDecision.Policy"/> of a decision that kept a conversation on its thinking model.</summary>
    public const string PolicyName = "thinking-kept";

    /// <summary>The sessions remembered by default.</summary>
    public const int DefaultCapacity = 100_000;

    private readonly PriceBook _prices;
    private readonly ModelFit _fit;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, string> _producers = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();

    /// <summary>Creates the adjuster.</summary>
    /// <param name="prices">The catalog: who reads whose thinking blocks, the request rules, and the input rates.</param>
    /// <param name="time">The clock whose prices apply; the system clock when null.</param>
    /// <param name="capacity">How many sessions to remember.</param>
    public ThinkingAffinity(PriceBook prices, TimeProvider? time = null, int capacity = DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _prices = prices;
        _time = time ?? TimeProvider.System;
        _fit = new ModelFit(prices, _time);
        Capacity = capacity;
    }

    /// <summary>How many sessions are remembered; the oldest are forgotten first.</summary>
    public int Capacity { get; }

    /// <summary>The model whose answer thought last in the scoped session (<see cref="SessionScope.Of"/>), or null.</summary>
    /// <param name="scopedSession">The session, scoped to its key.</param>
    public string? ThinkingModelOf(string? scopedSession) =>
        scopedSession is not null && _producers.TryGetValue(scopedSession, out var model) ? model : null;

    /// <summary>
    /// Records an answered call: when its answer thought (<paramref name="thought"/>), <paramref name="model"/> made the
    /// session's newest thinking blocks. Calls without a session, or whose answer did not think, change nothing.
    /// </summary>
    /// <param name="keyId">The caller's key id, when known.</param>
    /// <param name="sessionId">The call's session.</param>
    /// <param name="model">The model that answered.</param>
    /// <param name="thought">Whether the answer carries thinking (or, at the proxy, the request asked the model to think).</param>
    public void Observe(string? keyId, string? sessionId, string? model, bool thought)
    {
        if (!thought || SessionScope.Of(keyId, sessionId) is not { } scoped || string.IsNullOrEmpty(model))
        {
            return;
        }

        var id = _prices.TryResolveId(model, out var resolved) ? resolved : model;
        if (_producers.TryGetValue(scoped, out var known))
        {
            if (!string.Equals(known, id, StringComparison.Ordinal))
            {
                _producers[scoped] = id;
            }

            return;
        }

        if (_producers.TryAdd(scoped, id))
        {
            _order.Enqueue(scoped);
            while (_producers.Count > Capacity && _order.TryDequeue(out var oldest))
            {
                _producers.TryRemove(oldest, out _);
            }
        }
    }

    /// <summary>Whether a request to <paramref name="model"/> thinks: its thinking mode, or the model's default when it sends none.</summary>
    /// <param name="model">The model the request went to.</param>
    /// <param name="traits">The request's traits.</param>
    public bool Thinks(string model, in RequestTraits traits) => traits.Thinking switch
    {
        ThinkingMode.Disabled => false,
        ThinkingMode.Unspecified => _prices.TryGetEntry(model, out var entry) && entry.Rules.ThinkingOnByDefault,
        _ => true,
    };

    /// <summary>
    /// Whether <paramref name="reader"/> can read thinking blocks that <paramref name="producer"/> made: always, unless
    /// the catalog says its thinking is tied to the model (preserved thinking) and <paramref name="producer"/> is not
    /// among the models it reads (<c>readsFrom</c>).
    /// </summary>
    /// <param name="reader">The model the next request would go to.</param>
    /// <param name="producer">The model that produced the conversation's thinking blocks.</param>
    public bool CanRead(string reader, string producer) => CanRead(_prices, reader, producer);

    /// <summary>The same judgement on any catalog (cache-aware routing uses it too).</summary>
    /// <param name="prices">The catalog.</param>
    /// <param name="reader">The model the next request would go to.</param>
    /// <param name="producer">The model that produced the conversation's thinking blocks.</param>
    public static bool CanRead(PriceBook prices, string reader, string producer)
    {
        ArgumentNullException.ThrowIfNull(prices);
        if (!prices.TryGetEntry(reader, out var entry) || !entry.Rules.ThinkingTiedToModel)
        {
            return true;
        }

        var producerId = prices.TryResolveId(producer, out var id) ? id : producer;
        foreach (var name in entry.Rules.ReadsThinkingFrom)
        {
            if (string.Equals(prices.TryResolveId(name, out var readable) ? readable : name, producerId, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Returns <paramref name="decision"/>, or a decision for the session's thinking model when the policy moved a
    /// conversation carrying thinking blocks to a cheaper model that cannot read them (see the remarks).
    /// </summary>
    /// <param name="decision">The policy's decision, already fitted (<see cref="ModelFit.Fit"/>).</param>
    /// <param name="request">The request's features (session, key, traits).</param>
    public RoutingDecision Adjust(RoutingDecision decision, in RoutingRequest request)
    {
        if (!request.Traits.CarriesThinking
            || ThinkingModelOf(SessionScope.Of(request.KeyId, request.SessionId)) is not { } producer
            || !_prices.TryResolveId(decision.Model, out var chosen)
            || string.Equals(chosen, producer, StringComparison.Ordinal)
            || CanRead(chosen, producer))
        {
            return decision;
        }

        var lost = $"; {chosen} cannot read the thinking blocks {producer} made in this conversation, so the API drops them and it thinks again";
        if (decision.Policy == PinnedPolicy.DefaultName)
        {
            return decision with { Reason = decision.Reason + lost + " (a pin moves it anyway)" };
        }

        if (_fit.Check(producer, request) != RuleViolation.None)
        {
            return decision with { Reason = decision.Reason + lost + $" ({producer} would reject the request as it is)" };
        }

        decimal chosenRate, producerRate;
        try
        {
            var now = _time.GetUtcNow();
            // Per million input tokens, priced on 10,000 (below any long-prompt band, e.g. Haiku 5.5's above 100,000).
            chosenRate = _prices.Cost(chosen, new TokenUsage(10_000, 0), now).Total * 100m;
            producerRate = _prices.Cost(producer, new TokenUsage(10_000, 0), now).Total * 100m;
        }
        catch (PricingException)
        {
            return decision; // a model without a price in force: no comparison, the policy's choice stands
        }

        if (chosenRate > producerRate)
        {
            return decision with
            {
                Reason = decision.Reason + lost + string.Create(CultureInfo.InvariantCulture, $" (the policy escalated to a dearer model: ${chosenRate:0.##} vs ${producerRate:0.##} per MTok input)"),
            };
        }

        // The policy chose a cheaper model, so it judged this turn easy: keep the reasoning on the model that can read
        // it, at low effort unless the caller or the policy set one.
        var effort = decision.Effort == EffortLevel.Unspecified && request.Traits.Effort == EffortLevel.Unspecified
            && _prices.TryGetEntry(producer, out var entry)
            ? ModelFit.Clamp(entry.Rules, EffortLevel.Low)
            : decision.Effort;
        var effortNote = effort == EffortLevel.Low && decision.Effort != EffortLevel.Low
            ? $"; at low effort, since the policy judged the turn easy enough for {chosen}"
            : string.Empty;
        return new RoutingDecision(
            producer,
            $"thinking-kept on {producer}: {chosen} cannot read the thinking blocks {producer} made in this conversation (the API would drop them and the model would think again){effortNote}; the policy said: {decision.Reason}",
            decision.Confidence,
            PolicyName)
        {
            Effort = effort,
        };
    }
}
