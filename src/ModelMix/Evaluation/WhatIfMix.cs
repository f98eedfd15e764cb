using System.Globalization;
using ModelMix.Pricing;

namespace ModelMix.Evaluation;

/// <summary>
/// A hypothetical split of traffic between models, e.g. <c>haiku=70,sonnet=20,opus=10</c>: each call is counted as if
/// that share of it ran on each model. Shares are percentages and must add up to 100. An entry may name an effort
/// (<c>opus@low=30</c>): its output tokens are then estimated from the traffic's own per-effort averages
/// (<see cref="SavingsCalculator"/>), never assumed unchanged.
/// </summary>
internal sealed class WhatIfMix
{
    private WhatIfMix(string text, IReadOnlyList<WhatIfMixEntry> entries)
    {
        Text = text;
        Entries = entries;
        Shares = entries.Select(entry => new KeyValuePair<string, decimal>(entry.Label, entry.Share)).ToList();
    }

    /// <summary>The mix as the user wrote it.</summary>
    public string Text { get; }

    /// <summary>The entries in the order given: model, effort (if any) and share.</summary>
    public IReadOnlyList<WhatIfMixEntry> Entries { get; }

    /// <summary>Each entry's <see cref="WhatIfMixEntry.Label"/> (the resolved model id, <c>@effort</c> when named) and its share as a fraction in (0, 1], in the order given.</summary>
    public IReadOnlyList<KeyValuePair<string, decimal>> Shares { get; }

    /// <summary>Whether an entry names an effort, so that the mix's cost is an estimate.</summary>
    public bool HasEffort => Entries.Any(entry => entry.Effort != Catalog.EffortLevel.Unspecified);

    /// <summary>
    /// Parses <c>name=percent,…</c>; a name is a tier (<c>haiku</c>, <c>sonnet</c>, <c>opus</c>, <c>fable</c>), a model id or
    /// an alias known to <paramref name="prices"/>, optionally followed by <c>@effort</c> (<c>low</c> … <c>max</c>).
    /// </summary>
    /// <exception cref="FormatException">The text is malformed, names an unknown model or an effort the model does not
    /// accept (catalog rules), names an entry twice, or the shares do not add up to 100.</exception>
    public static WhatIfMix Parse(string text, PriceBook prices)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(prices);
        var shares = new List<WhatIfMixEntry>();
        var total = 0m;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pieces = part.Split('=', StringSplitOptions.TrimEntries);
            if (pieces.Length != 2 || pieces[0].Length == 0)
            {
                throw new FormatException($"--mix: '{part}' is not name=percent (e.g. haiku=70,sonnet=20,opus=10).");
            }

            if (!decimal.TryParse(pieces[1].TrimEnd('%'), NumberStyles.Number, CultureInfo.InvariantCulture, out var percent) || percent <= 0 || percent > 100)
            {
                throw new FormatException($"--mix: the share of '{pieces[0]}' must be a percentage in (0, 100], got '{pieces[1]}'.");
            }

            var name = pieces[0];
            var effort = Catalog.EffortLevel.Unspecified;
            if (name.LastIndexOf('@') is var at and > 0)
            {
                if (!Catalog.RequestTraitsReader.TryParseEffort(name[(at + 1)..], out effort))
                {
                    throw new FormatException($"--mix: '{name}': the effort after '@' must be low, medium, high, xhigh or max.");
                }

                name = name[..at].Trim();
            }

            string model;
            try
            {
                model = prices.ResolveTier(name);
            }
            catch (PricingException exception)
            {
                throw new FormatException($"--mix: '{name}' is neither a tier (haiku, sonnet, opus, fable) nor a priced model: {exception.Message}", exception);
            }

            if (effort != Catalog.EffortLevel.Unspecified && prices.TryGetEntry(model, out var entry) && entry.Rules is { EffortsKnown: true } rules
                && (rules.Efforts == Catalog.EffortLevels.None || !rules.AcceptsEffort(effort)))
            {
                // Effort levels invalid for the model are never priced, as they are never sent (docs/models.md).
                throw new FormatException($"--mix: '{pieces[0]}': {model} {Catalog.ModelRuleCheck.Describe(rules.Efforts == Catalog.EffortLevels.None ? Catalog.RuleViolation.EffortUnsupported : Catalog.RuleViolation.EffortLevel)}.");
            }

            var mixEntry = new WhatIfMixEntry(model, effort, percent / 100m);
            if (shares.Exists(share => share.Label == mixEntry.Label))
            {
                throw new FormatException($"--mix: '{pieces[0]}' ({mixEntry.Label}) appears twice.");
            }

            shares.Add(mixEntry);
            total += percent;
        }

        if (shares.Count == 0)
        {
            throw new FormatException("--mix: give at least one name=percent pair, e.g. haiku=70,sonnet=20,opus=10.");
        }

        if (total != 100m)
        {
            throw new FormatException($"--mix: the shares add up to {total.ToString(CultureInfo.InvariantCulture)}%, not 100%.");
        }

        return new WhatIfMix(text, shares);
    }
}
