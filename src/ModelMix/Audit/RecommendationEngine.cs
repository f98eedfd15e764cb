using System.Globalization;
using ModelMix.Pricing;

namespace ModelMix.Audit;

/// <summary>
/// Turns an audit and quality evidence into suggested pins: per task label, the cheapest model whose agreement with
/// the reference clears the bar at the lower bound of its Wilson interval, priced on the task's own ledger tokens; and
/// the reverse case, a task whose cheap-first path (retries and escalations included) costs more than sending its
/// requests straight to the model it escalates to.
/// </summary>
public static class RecommendationEngine
{
    /// <summary>Per task, per model: samples and agreements with the reference.</summary>
    /// <param name="evidence">The evidence source.</param>
    /// <param name="prices">Resolves model names and finds the dearest candidate.</param>
    /// <param name="options">Reference and tolerance.</param>
    /// <param name="cancellationToken">Stops reading.</param>
    public static async Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, (long Trials, long Agreements)>>> SummarizeAsync(
        IRecommendationEvidence evidence, PriceBook prices, RecommendationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(evidence);
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(options);
        var reference = options.ReferenceModel is { } r ? prices.ResolveTier(r) : null;
        var result = new Dictionary<string, Dictionary<string, (long, long)>>(StringComparer.OrdinalIgnoreCase);
        await foreach (var sample in evidence.ReadAsync(cancellationToken))
        {
            var quality = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var (model, q) in sample.Quality)
            {
                if (prices.TryResolveId(model, out var id) || (prices.Tiers.ContainsKey(model) && (id = prices.ResolveTier(model)) is not null))
                {
                    quality[id] = q;
                }
            }

            var sampleReference = reference ?? quality.Keys.OrderByDescending(model => LatestOutputRate(prices, model)).ThenBy(m => m, StringComparer.Ordinal).FirstOrDefault();
            if (sampleReference is null || !quality.TryGetValue(sampleReference, out var referenceQuality))
            {
                continue;
            }

            if (!result.TryGetValue(sample.TaskLabel, out var models))
            {
                result[sample.TaskLabel] = models = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
            }

            foreach (var (model, q) in quality)
            {
                var (trials, agreements) = models.GetValueOrDefault(model);
                models[model] = (trials + 1, agreements + (q >= referenceQuality - options.Tolerance ? 1 : 0));
            }
        }

        return result.ToDictionary(pair => pair.Key, pair => (IReadOnlyDictionary<string, (long Trials, long Agreements)>)pair.Value, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The recommendations, task by task (reverse cases first, then cheaper models, then the unsure).</summary>
    /// <param name="report">The audit of the range (its per-task repriced costs must include the evidence's models).</param>
    /// <param name="evidence">From <see cref="SummarizeAsync"/>; empty for ledger-only (reverse) suggestions.</param>
    /// <param name="options">The bar and confidence.</param>
    public static IReadOnlyList<Recommendation> Compute(
        AuditReport report, IReadOnlyDictionary<string, IReadOnlyDictionary<string, (long Trials, long Agreements)>> evidence, RecommendationOptions options)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(evidence);
        ArgumentNullException.ThrowIfNull(options);
        var factor = report.MonthlyFactor;
        var reverse = new List<Recommendation>();
        var forward = new List<Recommendation>();
        var unsure = new List<Recommendation>();
        foreach (var task in report.TaskCosts)
        {
            var current = task.CostUsd * factor;
            Recommendation? taskReverse = null;
            foreach (var path in task.Paths)
            {
                if (path.Retries + path.Escalations == 0 || path.EscalationTarget is not { } target
                    || !path.FirstAttemptRepricedUsd.TryGetValue(target, out var direct) || direct >= path.TotalUsd)
                {
                    continue;
                }

                var saving = (path.TotalUsd - direct) * factor;
                if (taskReverse is null || saving > taskReverse.MonthlySavingUsd)
                {
                    var infeasible = path.FirstAttemptInfeasibleCalls.GetValueOrDefault(target);
                    taskReverse = new Recommendation
                    {
                        InfeasibleCalls = infeasible,
                        Task = task.Task,
                        Kind = RecommendationKind.BiggerModelCheaperInTotal,
                        CurrentModel = path.Model,
                        Model = target,
                        CurrentMonthlyUsd = current,
                        RecommendedMonthlyUsd = current - saving,
                        Reason = $"{path.Requests} requests started on {path.Model} and cost ${Usd(path.TotalUsd)} with {path.Retries} retries and {path.Escalations} escalations " +
                            $"(${Usd(path.RetryUsd + path.EscalationUsd)} of it); sent straight to {target} they would cost ${Usd(direct)}." + Infeasible(infeasible, target),
                    };
                }
            }

            if (taskReverse is not null)
            {
                reverse.Add(taskReverse);
                continue;
            }

            if (!evidence.TryGetValue(task.Task, out var models))
            {
                continue;
            }

            Recommendation? best = null, maybe = null;
            foreach (var (model, cost) in task.RepricedUsd.OrderBy(pair => pair.Value).ThenBy(pair => pair.Key, StringComparer.Ordinal))
            {
                var monthly = cost * factor;
                if (monthly >= current || model == task.MainModel || !models.TryGetValue(model, out var stats))
                {
                    continue;
                }

                var interval = WilsonInterval.Compute(stats.Agreements, stats.Trials, options.Confidence);
                var infeasibleCalls = task.InfeasibleCalls.GetValueOrDefault(model);
                var more = interval.MoreTrialsToClear(options.Bar, options.Confidence);
                var range = $"{Pct(interval.Rate)} agreement on {interval.Trials} samples ({Pct(options.Confidence)} interval {Pct(interval.Lower)}–{Pct(interval.Upper)}, bar {Pct(options.Bar)})";
                if (interval.Lower >= options.Bar)
                {
                    best = new Recommendation
                    {
                        Task = task.Task, Kind = RecommendationKind.CheaperModel, CurrentModel = task.MainModel, Model = model, Agreement = interval,
                        MoreSamplesNeeded = 0, CurrentMonthlyUsd = current, RecommendedMonthlyUsd = monthly, InfeasibleCalls = infeasibleCalls,
                        Reason = $"{model}: {range}." + Infeasible(infeasibleCalls, model),
                    };
                    break;
                }

                maybe ??= more is { } n ? new Recommendation
                {
                    Task = task.Task, Kind = RecommendationKind.NeedsMoreEvidence, CurrentModel = task.MainModel, Model = model, Agreement = interval,
                    MoreSamplesNeeded = n, CurrentMonthlyUsd = current, RecommendedMonthlyUsd = monthly, InfeasibleCalls = infeasibleCalls,
                    Reason = $"{model}: {range}; about {n} more samples at this rate would make the lower bound clear the bar." + Infeasible(infeasibleCalls, model),
                } : null;
            }

            if (best is not null)
            {
                forward.Add(best);
            }
            else if (maybe is not null)
            {
                unsure.Add(maybe);
            }
        }

        return [.. reverse, .. forward, .. unsure];
    }

    /// <summary>The sentence a recommendation adds when its model could not have served some of the calls it is priced on.</summary>
    private static string Infeasible(long calls, string model) => calls == 0 ? string.Empty :
        $" {calls} of these calls could not have run on {model} (prompt over its context window, output over its maximum, or an inference_geo it refuses): " +
        "they are priced at what they cost as recorded, and routing would keep them on a model that accepts them.";

    private static decimal LatestOutputRate(PriceBook prices, string model) => prices.GetEntry(model).Periods[^1].Output;

    private static string Usd(decimal value) => value.ToString("0.00####", CultureInfo.InvariantCulture);

    private static string Pct(double value) => (value * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%";
}
