using System.Globalization;
using ModelMix.Pricing;

namespace ModelMix.Evaluation;

/// <summary>
/// A hypothetical split of traffic between models, e.g. <c>haiku=70,sonnet=20,opus=10</c>: each call is counted as if
/// that share of it ran on each model. Shares are percentages and must add up to 100.
/// </summary>
public sealed class WhatIfMix
{
    private WhatIfMix(string text, IReadOnlyList<KeyValuePair<string, decimal>> shares)
    {
        Text = text;
        Shares = shares;
    }

    /// <summary>The mix as the user wrote it.</summary>
    public string Text { get; }

    /// <summary>Resolved model id and its share as a fraction in (0, 1], in the order given.</summary>
    public IReadOnlyList<KeyValuePair<string, decimal>> Shares { get; }

    /// <summary>
    /// Parses <c>name=percent,…</c>; a name is a tier (<c>haiku</c>, <c>sonnet</c>, <c>opus</c>), a model id or an alias
    /// known to <paramref name="prices"/>.
    /// </summary>
    /// <exception cref="FormatException">The text is malformed, names an unknown model, or the shares do not add up to 100.</exception>
    public static WhatIfMix Parse(string text, PriceBook prices)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(prices);
        var shares = new List<KeyValuePair<string, decimal>>();
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

            if (pieces[0].LastIndexOf('@') is var at and > 0 && Catalog.RequestTraitsReader.TryParseEffort(pieces[0][(at + 1)..], out _))
            {
                // Effort changes how many tokens a call uses, not their price; savings reprices the recorded tokens, so
                // it cannot say what another effort would cost. Shadow pairs at that effort measure it (docs/shadow.md).
                throw new FormatException(
                    $"--mix: '{pieces[0]}' names an effort. Effort changes how many tokens a call uses, not their price, and savings reprices the tokens your traffic recorded, so it cannot price another effort; measure it with shadow mode (CandidateModel \"{pieces[0][..at]}@{pieces[0][(at + 1)..]}\", docs/shadow.md).");
            }

            string model;
            try
            {
                model = prices.ResolveTier(pieces[0]);
            }
            catch (PricingException exception)
            {
                throw new FormatException($"--mix: '{pieces[0]}' is neither a tier (haiku, sonnet, opus) nor a priced model: {exception.Message}", exception);
            }

            if (shares.Exists(share => share.Key == model))
            {
                throw new FormatException($"--mix: '{pieces[0]}' ({model}) appears twice.");
            }

            shares.Add(new(model, percent / 100m));
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
