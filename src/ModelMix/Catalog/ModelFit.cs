using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Catalog;

/// <summary>
/// Keeps routing from turning a valid request into a 400: checks the model a decision names against the catalog's
/// per-model rules (<see cref="ModelRuleCheck"/>) and, when that model would reject the request as it is, moves the
/// decision to the first model that accepts it — the model's own <see cref="ModelPriceEntry.Substitutes"/>, then the
/// rest of its family, then the catalog's tiers, then any model whose rules the catalog states — saying so in the reason. The one core both doors use after routing,
/// for fallback chains and for cooldown substitutes.
/// </summary>
public sealed class ModelFit
{
    private readonly PriceBook _book;
    private readonly TimeProvider _time;

    /// <summary>Creates the check over a catalog.</summary>
    /// <param name="book">The catalog (price book) whose rules apply.</param>
    /// <param name="time">The clock that says which models are retired; the system clock when null.</param>
    public ModelFit(PriceBook book, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(book);
        _book = book;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The catalog the rules come from.</summary>
    public PriceBook Catalog => _book;

    /// <summary>
    /// Why <paramref name="model"/> would reject <paramref name="request"/> as it is; <see cref="RuleViolation.None"/>
    /// when it accepts it or when the catalog does not know the model (nothing to check). Allocation-free.
    /// </summary>
    /// <param name="model">A model id or alias.</param>
    /// <param name="request">The request's routing features.</param>
    public RuleViolation Check(string model, in RoutingRequest request) =>
        _book.TryGetEntry(model, out var entry)
            ? ModelRuleCheck.Check(entry, request.Traits, request.EstimatedInputTokens, request.MaxTokens, _time.GetUtcNow())
            : RuleViolation.None;

    /// <summary>
    /// <paramref name="decision"/> itself when its model accepts the request (no allocation), else the same decision
    /// on the first model that does, its reason extended with what was skipped and why. A decision's own
    /// <see cref="RoutingDecision.Effort"/> replaces the caller's and is clamped down to the routed model's highest
    /// accepted level (<see cref="EffortLevel.Unspecified"/> for a model that takes none). When no catalog model accepts
    /// the request either, the decision stays and its reason says so (the request would fail on any model).
    /// </summary>
    /// <param name="decision">What the routing policy decided.</param>
    /// <param name="request">The request's routing features.</param>
    public RoutingDecision Fit(in RoutingDecision decision, in RoutingRequest request)
    {
        var now = _time.GetUtcNow();
        if (!_book.TryGetEntry(decision.Model, out var entry))
        {
            return decision;
        }

        var effort = Clamp(entry.Rules, decision.Effort);
        var violation = ModelRuleCheck.Check(entry, TraitsFor(request.Traits, effort), request.EstimatedInputTokens, request.MaxTokens, now);
        if (violation == RuleViolation.None)
        {
            return effort == decision.Effort
                ? decision
                : decision with { Effort = effort, Reason = $"{decision.Reason}; effort {Name(decision.Effort)} → {Name(effort)} ({decision.Model} accepts no higher)" };
        }

        var substitute = Substitute(decision.Model, request, exclude: null, decision.Effort);
        if (substitute is null)
        {
            return decision with { Reason = $"{decision.Reason}; {decision.Model} {ModelRuleCheck.Describe(violation)}, and no model in the catalog accepts the request as it is" };
        }

        return decision with
        {
            Model = substitute,
            Effort = _book.TryGetEntry(substitute, out var chosen) ? Clamp(chosen.Rules, decision.Effort) : decision.Effort,
            Reason = $"{decision.Reason}; {decision.Model} skipped ({ModelRuleCheck.Describe(violation)}) → {substitute}",
        };
    }

    /// <summary>
    /// The first model other than <paramref name="model"/> (and not in <paramref name="exclude"/>) that accepts the
    /// request as it is: the model's substitutes, then its family in catalog order, then the tiers, then the rest of the
    /// catalog in order (beyond the substitutes, only models whose rules the catalog states); null when none does.
    /// </summary>
    /// <param name="model">The model that rejects the request.</param>
    /// <param name="request">The request's routing features.</param>
    /// <param name="exclude">Models not to pick (e.g. those a fallback chain already tried).</param>
    /// <param name="routedEffort">The effort the decision sends (clamped per candidate), or unspecified to keep the caller's.</param>
    public string? Substitute(string model, in RoutingRequest request, IReadOnlySet<string>? exclude, EffortLevel routedEffort = EffortLevel.Unspecified)
    {
        ArgumentNullException.ThrowIfNull(model);
        var now = _time.GetUtcNow();
        _book.TryGetEntry(model, out var origin);
        var originId = origin?.Id ?? model;
        if (origin is not null)
        {
            foreach (var name in origin.Substitutes)
            {
                if (Accepts(name, originId, request, exclude, now, routedEffort) is { } id)
                {
                    return id;
                }
            }

            if (origin.Family is { } family)
            {
                foreach (var entry in _book.Entries)
                {
                    if (string.Equals(entry.Family, family, StringComparison.OrdinalIgnoreCase) && Accepts(entry.Id, originId, request, exclude, now, routedEffort, rulesKnown: true) is { } id)
                    {
                        return id;
                    }
                }
            }
        }

        foreach (var tierModel in _book.Tiers.Values)
        {
            if (Accepts(tierModel, originId, request, exclude, now, routedEffort, rulesKnown: true) is { } id)
            {
                return id;
            }
        }

        // Last, any model in catalog order (newest generation first in the embedded catalog).
        foreach (var entry in _book.Entries)
        {
            if (Accepts(entry.Id, originId, request, exclude, now, routedEffort, rulesKnown: true) is { } id)
            {
                return id;
            }
        }

        return null;
    }

    /// <summary>
    /// A list of (tier name, model) targets — a cascade's tiers — for one request: a target whose model would reject the
    /// request as it is stands for its <see cref="Substitute"/>, and <paramref name="note"/> says so
    /// (<c>; sonnet: claude-sonnet-5-5 skipped (…) → claude-sonnet-5</c>). The list itself when every target accepts the
    /// request (nothing allocated).
    /// </summary>
    /// <param name="targets">The configured targets, in order.</param>
    /// <param name="request">The request's routing features.</param>
    /// <param name="note">What was replaced and why; empty when nothing was.</param>
    public IReadOnlyList<(string Name, string Model)> FitTargets(IReadOnlyList<(string Name, string Model)> targets, in RoutingRequest request, out string note)
    {
        ArgumentNullException.ThrowIfNull(targets);
        (string Name, string Model)[]? fitted = null;
        note = string.Empty;
        for (var i = 0; i < targets.Count; i++)
        {
            var (name, model) = targets[i];
            var violation = Check(model, request);
            if (violation == RuleViolation.None)
            {
                continue;
            }

            fitted ??= [.. targets];
            if (Substitute(model, request, exclude: null) is { } substitute)
            {
                fitted[i] = (name, substitute);
                note += $"; {name}: {model} skipped ({ModelRuleCheck.Describe(violation)}) → {substitute}";
            }
        }

        return fitted ?? targets;
    }

    /// <summary>
    /// The highest level at or below <paramref name="effort"/> that <paramref name="rules"/> accept;
    /// <see cref="EffortLevel.Unspecified"/> when the model takes no effort parameter or none is low enough.
    /// </summary>
    /// <param name="rules">The model's rules.</param>
    /// <param name="effort">The level wanted.</param>
    public static EffortLevel Clamp(ModelRules rules, EffortLevel effort)
    {
        ArgumentNullException.ThrowIfNull(rules);
        if (effort is EffortLevel.Unspecified or EffortLevel.Other || !rules.EffortsKnown)
        {
            return effort;
        }

        for (var level = effort; level >= EffortLevel.Low; level--)
        {
            if (rules.Efforts != EffortLevels.None && rules.AcceptsEffort(level))
            {
                return level;
            }
        }

        return EffortLevel.Unspecified;
    }

    private static RequestTraits TraitsFor(in RequestTraits traits, EffortLevel routedEffort) =>
        routedEffort == EffortLevel.Unspecified ? traits : traits with { Effort = routedEffort };

    private static string Name(EffortLevel effort) => RequestTraitsReader.WireName(effort) ?? "none";

    /// <remarks>
    /// Beyond a model's own curated <see cref="ModelPriceEntry.Substitutes"/>, only models whose rules the catalog states
    /// are taken (<paramref name="rulesKnown"/>): a model with unknown limits is not judged, so it must not be chosen blindly.
    /// </remarks>
    private string? Accepts(string name, string originId, in RoutingRequest request, IReadOnlySet<string>? exclude, DateTimeOffset now, EffortLevel routedEffort, bool rulesKnown = false)
    {
        if (!_book.TryGetEntry(name, out var entry) || string.Equals(entry.Id, originId, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (rulesKnown && ReferenceEquals(entry.Rules, ModelRules.Permissive))
        {
            return null;
        }

        if (exclude is not null && (exclude.Contains(entry.Id) || exclude.Contains(name)))
        {
            return null;
        }

        var traits = TraitsFor(request.Traits, Clamp(entry.Rules, routedEffort));
        return ModelRuleCheck.Check(entry, traits, request.EstimatedInputTokens, request.MaxTokens, now) == RuleViolation.None
            ? entry.Id
            : null;
    }
}
