using ModelMix.Catalog;
using ModelMix.Pricing;

namespace ModelMix.Evaluation;

/// <summary>
/// Moves one recorded call to another model for a what-if price (<c>modelmix savings --all-on</c> / <c>--mix</c>, the
/// audit's counterfactuals, its recommendations and <c>--forecast</c>): whether the target could have served the call
/// as it was made, judged by the catalog's facts through the same <see cref="ModelRuleCheck"/> routing uses, and what
/// the call's tokens cost there. The one core behind every what-if number.
/// </summary>
/// <remarks>
/// What a recorded call tells about its request: its prompt size (every input token, cache reads and writes included),
/// its output size, and a data-residency restriction when it ran under an <c>inference_geo</c> whose multiplier is not
/// 1 (e.g. <c>us</c>), and the <c>output_config.effort</c> it sent (the ledger records whether the request named one). The
/// target could not have served it when the prompt is over the target's context window, the output over its maximum
/// output, the restriction one the target refuses (<c>inferenceGeo: false</c>: models before Claude Opus 4.6), the
/// effort one it does not accept (no effort parameter, or not that level), or the target was retired at the pricing instant. Such a call is <b>infeasible</b>: the callers
/// count it and price it by the documented rule, as it was served (on the model that served it, at its as-used cost),
/// so a what-if never claims a saving the target could not have delivered.
/// </remarks>
internal static class WhatIfRepricing
{
    /// <summary>
    /// Why <paramref name="target"/> could not have served a call with <paramref name="usage"/> at <paramref name="at"/>;
    /// <see cref="RuleViolation.None"/> when it could, or when the catalog states nothing to judge it by.
    /// </summary>
    /// <param name="prices">The catalog.</param>
    /// <param name="target">The model the call is moved to (id or alias).</param>
    /// <param name="usage">The call's recorded usage.</param>
    /// <param name="at">The instant the target is judged at (its retirement counts).</param>
    public static RuleViolation Check(PriceBook prices, string target, in TokenUsage usage, DateTimeOffset at) =>
        Check(prices, target, usage, at, EffortLevel.Unspecified);

    /// <summary>
    /// <see cref="Check(PriceBook, string, in TokenUsage, DateTimeOffset)"/> of a call that sent
    /// <c>output_config.effort</c> <paramref name="sentEffort"/> (<see cref="SentEffort"/>): the target must also accept
    /// that effort (a model without an effort parameter, e.g. Claude Haiku 4.5, answers 400, and routing would not send
    /// the call there). <see cref="EffortLevel.Unspecified"/> when the request sent none: a model's default effort is
    /// no constraint.
    /// </summary>
    /// <param name="prices">The catalog.</param>
    /// <param name="target">The model the call is moved to (id or alias).</param>
    /// <param name="usage">The call's recorded usage.</param>
    /// <param name="at">The instant the target is judged at (its retirement counts).</param>
    /// <param name="sentEffort">The effort the request sent, or <see cref="EffortLevel.Unspecified"/>.</param>
    public static RuleViolation Check(PriceBook prices, string target, in TokenUsage usage, DateTimeOffset at, EffortLevel sentEffort)
    {
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(target);
        if (!prices.TryGetEntry(target, out var entry))
        {
            return RuleViolation.None;
        }

        var traits = new RequestTraits { InferenceGeo = RestrictsGeo(prices, usage), Effort = sentEffort };
        return ModelRuleCheck.Check(entry, traits, usage.TotalInputTokens, usage.OutputTokens > 0 ? usage.OutputTokens : null, at);
    }

    /// <summary>
    /// The effort a recorded call sent: the ledger's <c>effort</c> when the request named it, <see cref="EffortLevel.Unspecified"/>
    /// when it is the model's default (<paramref name="isDefault"/>: the request sent none) or unknown.
    /// </summary>
    /// <param name="effort">The recorded effort (<c>low</c> … <c>max</c>), or null.</param>
    /// <param name="isDefault">Whether the recorded effort is the model's default because the request sent none.</param>
    public static EffortLevel SentEffort(string? effort, bool isDefault) =>
        !isDefault && effort is { Length: > 0 } && RequestTraitsReader.TryParseEffort(effort, out var level) ? level : EffortLevel.Unspecified;

    /// <summary>
    /// Whether the call ran under a data-residency restriction: an <c>inference_geo</c> whose multiplier is not 1 (or that
    /// the price book does not know). <c>global</c> and <c>not_available</c> are what an unrestricted call reports.
    /// </summary>
    /// <param name="prices">The price book (its <c>inferenceGeo</c> multipliers).</param>
    /// <param name="usage">The call's usage.</param>
    public static bool RestrictsGeo(PriceBook prices, in TokenUsage usage)
    {
        ArgumentNullException.ThrowIfNull(prices);
        return usage.InferenceGeo is { Length: > 0 } geo
            && (!prices.InferenceGeoMultipliers.TryGetValue(geo, out var multiplier) || multiplier != 1m);
    }

    /// <summary>
    /// What the call's tokens cost on <paramref name="target"/> at <paramref name="at"/>, for a call the target can serve
    /// (<see cref="Check(PriceBook, string, in TokenUsage, DateTimeOffset, EffortLevel)"/>): every token class kept (cache reads stay reads, batch stays batch); a fast-mode call is priced
    /// at standard speed on a model without fast mode; the <c>inference_geo</c> multiplier applies only on a model that
    /// accepts <c>inference_geo</c> (an unrestricted call reports <c>global</c>, which a model before Opus 4.6 never does).
    /// </summary>
    /// <param name="prices">The price book.</param>
    /// <param name="target">The model (id or alias).</param>
    /// <param name="usage">The call's recorded usage.</param>
    /// <param name="at">The instant whose prices apply.</param>
    /// <exception cref="PricingException">The target has no price at <paramref name="at"/>, or the geo is unknown.</exception>
    public static decimal Cost(PriceBook prices, string target, TokenUsage usage, DateTimeOffset at) =>
        Cost(prices, target, usage, at, usage.TotalInputTokens);

    /// <summary>
    /// <see cref="Cost(PriceBook, string, TokenUsage, DateTimeOffset)"/> of the summed usage of calls that all had
    /// <paramref name="promptTokensPerCall"/>'s side of the long-context threshold (an audit over rollups).
    /// </summary>
    internal static decimal Cost(PriceBook prices, string target, TokenUsage usage, DateTimeOffset at, long promptTokensPerCall)
    {
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(target);
        if (usage.Speed == Speed.Fast && prices.TryGetPrice(target, at, out var price) && price.FastMultiplier is null)
        {
            usage = usage with { Speed = Speed.Standard };
        }

        if (usage.InferenceGeo is not null && prices.TryGetEntry(target, out var entry) && !entry.Rules.InferenceGeo)
        {
            usage = usage with { InferenceGeo = null };
        }

        return prices.Cost(target, usage, at, promptTokensPerCall).Total;
    }
}
