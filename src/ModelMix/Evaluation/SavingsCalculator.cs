using ModelMix.Pricing;

namespace ModelMix.Evaluation;

/// <summary>
/// Reprices real traffic: the same tokens (each class kept: cache reads stay reads, batch stays batch) on the models
/// that served them, all on one model, or split by a what-if mix, at one price date. A fast-mode call moved to a
/// model without fast mode is priced at that model's standard speed.
/// </summary>
public static class SavingsCalculator
{
    /// <summary>Computes the report.</summary>
    /// <param name="rows">The calls.</param>
    /// <param name="prices">The price book.</param>
    /// <param name="priceDate">The date whose prices the scenarios use (usually today).</param>
    /// <param name="allOn">Models to put all traffic on, one scenario each.</param>
    /// <param name="mixes">What-if mixes, one scenario each.</param>
    /// <exception cref="PricingException">A model of the traffic or a scenario has no price at <paramref name="priceDate"/>.</exception>
    public static SavingsReport Compute(
        IEnumerable<UsageRow> rows,
        PriceBook prices,
        DateTimeOffset priceDate,
        IReadOnlyList<string>? allOn = null,
        IReadOnlyList<WhatIfMix>? mixes = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(prices);
        allOn ??= [];
        mixes ??= [];

        var allOnIds = new List<string>(allOn.Count);
        foreach (var model in allOn)
        {
            allOnIds.Add(prices.ResolveTier(model));
        }

        var callsByModel = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var recordedByModel = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        var asUsed = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        var allOnTotals = allOnIds.Select(_ => 0m).ToArray();
        var mixTotals = mixes.Select(mix => mix.Shares.ToDictionary(share => share.Key, _ => 0m)).ToArray();
        long calls = 0, withoutCost = 0;
        var recorded = 0m;
        var cachingSaved = 0m;
        DateTimeOffset? from = null, to = null;

        foreach (var row in rows)
        {
            calls++;
            var model = prices.TryResolveId(row.Model, out var id) ? id : row.Model;
            callsByModel[model] = callsByModel.GetValueOrDefault(model) + 1;
            if (row.Timestamp is { } at)
            {
                from = from is null || at < from ? at : from;
                to = to is null || at > to ? at : to;
            }
            if (row.RecordedCost is { } cost)
            {
                recorded += cost;
                recordedByModel[model] = recordedByModel.GetValueOrDefault(model) + cost;
            }
            else
            {
                withoutCost++;
            }

            var asUsedCost = prices.Cost(row.Model, row.Usage, priceDate).Total;
            asUsed[model] = asUsed.GetValueOrDefault(model) + asUsedCost;
            var uncached = row.Usage with { InputTokens = row.Usage.TotalInputTokens, CacheWrite5mTokens = 0, CacheWrite1hTokens = 0, CacheReadTokens = 0 };
            cachingSaved += prices.Cost(row.Model, uncached, priceDate).Total - asUsedCost;
            for (var i = 0; i < allOnIds.Count; i++)
            {
                allOnTotals[i] += Reprice(prices, allOnIds[i], row.Usage, priceDate);
            }

            for (var i = 0; i < mixes.Count; i++)
            {
                foreach (var (target, share) in mixes[i].Shares)
                {
                    mixTotals[i][target] += share * Reprice(prices, target, row.Usage, priceDate);
                }
            }
        }

        var baseline = asUsed.Values.Sum();
        var scenarios = new List<SavingsScenario> { Scenario("as-used", asUsed, baseline) };
        for (var i = 0; i < allOnIds.Count; i++)
        {
            scenarios.Add(Scenario("all-on " + allOnIds[i], new Dictionary<string, decimal> { [allOnIds[i]] = allOnTotals[i] }, baseline));
        }

        for (var i = 0; i < mixes.Count; i++)
        {
            scenarios.Add(Scenario("mix " + mixes[i].Text, mixTotals[i], baseline));
        }

        return new SavingsReport
        {
            Calls = calls,
            CallsWithoutRecordedCost = withoutCost,
            PriceDate = priceDate,
            From = from,
            To = to,
            RecordedUsd = recorded,
            CallsByModel = callsByModel,
            RecordedByModel = recordedByModel,
            Scenarios = scenarios,
            CachingSavedUsd = cachingSaved,
        };
    }

    /// <summary>
    /// A call moved to another model keeps its tokens, batch tier and inference geo; a fast-mode call moved to a model
    /// that has no fast mode would have run at standard speed there, so it is priced at standard speed.
    /// </summary>
    private static decimal Reprice(PriceBook prices, string target, TokenUsage usage, DateTimeOffset priceDate)
    {
        if (usage.Speed == Speed.Fast && prices.TryGetPrice(target, priceDate, out var price) && price.FastMultiplier is null)
        {
            usage = usage with { Speed = Speed.Standard };
        }

        return prices.Cost(target, usage, priceDate).Total;
    }

    private static SavingsScenario Scenario(string name, IDictionary<string, decimal> byModel, decimal baseline)
    {
        var total = byModel.Values.Sum();
        var difference = total - baseline;
        return new SavingsScenario(
            name,
            total,
            new SortedDictionary<string, decimal>(byModel, StringComparer.Ordinal),
            difference,
            baseline == 0m ? 0m : difference / baseline);
    }
}
