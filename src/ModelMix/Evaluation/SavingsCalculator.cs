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
/// <see cref="SavingsScenario.Infeasible"/>. A mix entry with an effort (<c>opus@low=30</c>) scales each call's output
/// tokens by how the traffic's own output per call on that model differs between that effort and the call's
/// (<see cref="WhatIfEffortEstimate"/>); with fewer than <see cref="MinCallsPerEffort"/> such calls it refuses.
/// </summary>
internal static class SavingsCalculator
{
    /// <summary>
    /// The fewest calls the traffic must hold on a model at an effort before a mix entry at that effort is estimated
    /// from them (and before a call's own effort on the target model serves as the comparison).
    /// </summary>
    public const int MinCallsPerEffort = 20;

    /// <summary>Computes the report.</summary>
    /// <param name="rows">The calls.</param>
    /// <param name="prices">The price book.</param>
    /// <param name="priceDate">The date whose prices the scenarios use (usually today).</param>
    /// <param name="allOn">Models to put all traffic on, one scenario each.</param>
    /// <param name="mixes">What-if mixes, one scenario each.</param>
    /// <exception cref="PricingException">A model of the traffic or a scenario has no price at <paramref name="priceDate"/>.</exception>
    /// <exception cref="InvalidOperationException">A mix entry names an effort the traffic has too few calls at to estimate it.</exception>
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
        EffortStats? efforts = null;
        if (mixes.Any(mix => mix.HasEffort))
        {
            var list = rows as IReadOnlyList<UsageRow> ?? rows.ToList();
            efforts = EffortStats.From(list, prices);
            foreach (var mix in mixes)
            {
                efforts.Require(mix);
            }

            rows = list;
        }

        var allOnTotals = allOnIds.Select(id => new ScenarioAcc([new(id, EffortLevel.Unspecified, 1m)], null)).ToArray();
        var mixTotals = mixes.Select(mix => new ScenarioAcc(mix.Entries, efforts)).ToArray();
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
                scenario.Add(prices, row.Usage, row.Effort, row.EffortSent, model, asUsedCost, priceDate);
            }

            foreach (var scenario in mixTotals)
            {
                scenario.Add(prices, row.Usage, row.Effort, row.EffortSent, model, asUsedCost, priceDate);
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
    /// An entry with an effort first scales the call's output tokens (<see cref="EffortStats.Ratio"/>).
    /// </summary>
    private sealed class ScenarioAcc(IReadOnlyList<WhatIfMixEntry> entries, EffortStats? efforts)
    {
        private readonly SortedDictionary<string, decimal> _byModel = new(entries.ToDictionary(entry => entry.Label, _ => 0m), StringComparer.Ordinal);
        private readonly Dictionary<(string Model, RuleViolation Reason), (long Calls, decimal Usd)> _infeasible = [];
        private readonly decimal[] _recordedOutput = new decimal[entries.Count];
        private readonly decimal[] _estimatedOutput = new decimal[entries.Count];
        private long _infeasibleCalls;

        public void Add(PriceBook prices, TokenUsage usage, string? effort, bool effortSent, string servedModel, decimal asUsedCost, DateTimeOffset priceDate)
        {
            var infeasible = false;
            for (var i = 0; i < entries.Count; i++)
            {
                var entry = entries[i];
                var target = entry.Model;
                var share = entry.Share;
                var onTarget = usage;
                if (RequestTraitsReader.WireName(entry.Effort) is { } targetEffort)
                {
                    var ratio = efforts!.Ratio(target, targetEffort, effort);
                    onTarget = usage with { OutputTokens = (long)Math.Round(usage.OutputTokens * ratio, 0, MidpointRounding.AwayFromZero) };
                }

                // The call moves at the entry's effort when it names one, else at the effort it sent (if any).
                var sent = entry.Effort != EffortLevel.Unspecified ? entry.Effort : WhatIfRepricing.SentEffort(effort, !effortSent);
                var violation = WhatIfRepricing.Check(prices, target, onTarget, priceDate, sent);
                if (violation == RuleViolation.None)
                {
                    _byModel[entry.Label] += share * WhatIfRepricing.Cost(prices, target, onTarget, priceDate);
                    _recordedOutput[i] += share * usage.OutputTokens;
                    _estimatedOutput[i] += share * onTarget.OutputTokens;
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
            EffortEstimates = entries
                .Select((entry, i) => (Entry: entry, Index: i))
                .Where(pair => pair.Entry.Effort != EffortLevel.Unspecified)
                .Select(pair =>
                {
                    var (calls, mean) = efforts!.Cell(pair.Entry.Model, RequestTraitsReader.WireName(pair.Entry.Effort));
                    return new WhatIfEffortEstimate(pair.Entry.Label, calls, mean, _recordedOutput[pair.Index], _estimatedOutput[pair.Index]);
                })
                .ToList(),
        };
    }

    /// <summary>
    /// The traffic's output tokens per call, by (model, effort) and by model: what a mix entry with an effort is
    /// estimated from.
    /// </summary>
    private sealed class EffortStats
    {
        private readonly Dictionary<(string Model, string Effort), (long Calls, long Output)> _cells = [];
        private readonly Dictionary<string, (long Calls, long Output)> _models = new(StringComparer.Ordinal);

        public static EffortStats From(IEnumerable<UsageRow> rows, PriceBook prices)
        {
            var stats = new EffortStats();
            foreach (var row in rows)
            {
                var model = prices.TryResolveId(row.Model, out var id) ? id : row.Model;
                var (calls, output) = stats._models.GetValueOrDefault(model);
                stats._models[model] = (calls + 1, output + row.Usage.OutputTokens);
                if (Normalize(row.Effort) is { } effort)
                {
                    var (cellCalls, cellOutput) = stats._cells.GetValueOrDefault((model, effort));
                    stats._cells[(model, effort)] = (cellCalls + 1, cellOutput + row.Usage.OutputTokens);
                }
            }

            return stats;
        }

        /// <summary>Calls on <paramref name="model"/> at <paramref name="effort"/> and their mean output tokens.</summary>
        public (long Calls, decimal Mean) Cell(string model, string? effort)
        {
            var (calls, output) = Normalize(effort) is { } key ? _cells.GetValueOrDefault((model, key)) : default;
            return (calls, calls == 0 ? 0m : (decimal)output / calls);
        }

        /// <summary>Refuses a mix whose effort entries the traffic cannot estimate, saying what is missing.</summary>
        public void Require(WhatIfMix mix)
        {
            foreach (var entry in mix.Entries)
            {
                if (RequestTraitsReader.WireName(entry.Effort) is not { } effort || Cell(entry.Model, effort).Calls >= MinCallsPerEffort)
                {
                    continue;
                }

                var calls = Cell(entry.Model, effort).Calls;
                throw new InvalidOperationException(
                    $"--mix {mix.Text}: {entry.Label} cannot be estimated: the traffic has {calls} call(s) on {entry.Model} at {effort} effort, and at least "
                    + $"{MinCallsPerEffort} are needed (effort changes how many output tokens a call uses, so its cost is estimated from your own calls at that effort, never assumed). "
                    + $"Route some traffic there first, or measure it with shadow mode (CandidateModel \"{entry.Model}@{effort}\", docs/shadow.md).");
            }
        }

        /// <summary>
        /// The factor on a call's output tokens when it moves to <paramref name="target"/> at <paramref name="targetEffort"/>:
        /// the target's mean output at that effort over its mean output at the call's own effort, when the traffic has at
        /// least <see cref="MinCallsPerEffort"/> target calls at the call's effort; otherwise over the target's mean over
        /// all its calls (a call whose effort is unknown, or an effort the target rarely ran at).
        /// </summary>
        public decimal Ratio(string target, string targetEffort, string? servedEffort)
        {
            var (_, mean) = Cell(target, targetEffort);
            decimal baseline;
            if (Cell(target, servedEffort) is { Calls: >= MinCallsPerEffort } own)
            {
                baseline = own.Mean;
            }
            else
            {
                var (calls, output) = _models.GetValueOrDefault(target);
                baseline = calls == 0 ? 0m : (decimal)output / calls;
            }

            return baseline == 0m ? 1m : mean / baseline;
        }

        private static string? Normalize(string? effort) =>
            effort is { Length: > 0 } && RequestTraitsReader.TryParseEffort(effort, out var level) ? RequestTraitsReader.WireName(level) : null;
    }
}
