using ModelMix.Catalog;
using ModelMix.Pricing;

namespace ModelMix.Evaluation;

/// <summary>
/// Reprices real traffic: the same tokens (each class kept: cache reads stay reads, batch stays batch) on the models
/// that served them, all on one model, or split by a what-if mix, at one price date. A fast-mode call moved to a
/// model without fast mode is priced at that model's standard speed. A call a scenario's model could not have served
/// (its prompt over that model's context window, its output over its maximum output, a data-residency
/// <c>inference_geo</c> the model refuses, the model retired at the price date: <see cref="WhatIfRepricing"/>) stays, in
/// that scenario, on the model that served it at its as-used cost, and is counted in
/// <see cref="SavingsScenario.Infeasible"/>.
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
        var allOnTotals = allOnIds.Select(id => new ScenarioAcc([new(id, 1m)])).ToArray();
        var mixTotals = mixes.Select(mix => new ScenarioAcc(mix.Shares)).ToArray();
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
            foreach (var scenario in allOnTotals)
            {
                scenario.Add(prices, row.Usage, model, asUsedCost, priceDate);
            }

            foreach (var scenario in mixTotals)
            {
                scenario.Add(prices, row.Usage, model, asUsedCost, priceDate);
            }
        }

        var baseline = asUsed.Values.Sum();
        var scenarios = new List<SavingsScenario> { Scenario("as-used", asUsed, baseline) };
        for (var i = 0; i < allOnIds.Count; i++)
        {
            scenarios.Add(allOnTotals[i].ToScenario("all-on " + allOnIds[i], baseline));
        }

        for (var i = 0; i < mixes.Count; i++)
        {
            scenarios.Add(mixTotals[i].ToScenario("mix " + mixes[i].Text, baseline));
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

    /// <summary>
    /// One what-if scenario being summed: each call's share on each target, priced there by <see cref="WhatIfRepricing"/>
    /// when the target could have served the call, else kept on the model that served it at its as-used cost and counted.
    /// </summary>
    private sealed class ScenarioAcc(IReadOnlyList<KeyValuePair<string, decimal>> shares)
    {
        private readonly SortedDictionary<string, decimal> _byModel = new(shares.ToDictionary(share => share.Key, _ => 0m), StringComparer.Ordinal);
        private readonly Dictionary<(string Model, RuleViolation Reason), (long Calls, decimal Usd)> _infeasible = [];
        private long _infeasibleCalls;

        public void Add(PriceBook prices, TokenUsage usage, string servedModel, decimal asUsedCost, DateTimeOffset priceDate)
        {
            var infeasible = false;
            foreach (var (target, share) in shares)
            {
                var violation = WhatIfRepricing.Check(prices, target, usage, priceDate);
                if (violation == RuleViolation.None)
                {
                    _byModel[target] += share * WhatIfRepricing.Cost(prices, target, usage, priceDate);
                    continue;
                }

                var kept = share * asUsedCost;
                _byModel[servedModel] = _byModel.GetValueOrDefault(servedModel) + kept;
                var (calls, usd) = _infeasible.GetValueOrDefault((target, violation));
                _infeasible[(target, violation)] = (calls + 1, usd + kept);
                infeasible = true;
            }

            if (infeasible)
            {
                _infeasibleCalls++;
            }
        }

        public SavingsScenario ToScenario(string name, decimal baseline) => Scenario(name, _byModel, baseline) with
        {
            InfeasibleCalls = _infeasibleCalls,
            Infeasible = _infeasible
                .OrderBy(pair => pair.Key.Model, StringComparer.Ordinal).ThenBy(pair => pair.Key.Reason)
                .Select(pair => new WhatIfInfeasible(pair.Key.Model, pair.Key.Reason, pair.Value.Calls, pair.Value.Usd))
                .ToList(),
        };
    }
}
