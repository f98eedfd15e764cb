using System.Globalization;
using ModelMix.Pricing;

namespace ModelMix.Audit;

/// <summary>
/// Turns an audit and quality evidence into suggested pins: per task label, the cheapest model whose agreement with
/// the reference clears the bar at the lower bound of its Wilson interval, priced on the task's own ledger tokens; and
/// the reverse case, a task whose cheap-first path (retries and escalations included) costs more than sending its
/// requests straight to the model it escalates to.
/// </summary>
internal static class RecommendationEngine
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

    /// <summary>
    /// The recommendations, task by task: a bigger model that is cheaper in total first, then cheaper models, then
    /// the unsure, then "when not to route" (a task too small to be worth routing, that must be perfect, or that has a
    /// latency target), which takes the place of a cheaper-model suggestion for a task that should not be routed.
    /// </summary>
    /// <param name="report">The audit of the range (its per-task repriced costs must include the evidence's models).</param>
    /// <param name="evidence">From <see cref="SummarizeAsync"/>; empty for ledger-only (reverse) suggestions.</param>
    /// <param name="options">The bar, the confidence and the when-not-to-route thresholds.</param>
    /// <param name="prices">Tells which model is dearer per token (a bigger-model suggestion needs one).</param>
    public static IReadOnlyList<Recommendation> Compute(
        AuditReport report, IReadOnlyDictionary<string, IReadOnlyDictionary<string, (long Trials, long Agreements)>> evidence, RecommendationOptions options, PriceBook prices)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(evidence);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(prices);
        var factor = report.MonthlyFactor;
        var mustBePerfect = new HashSet<string>(options.MustBePerfect, StringComparer.OrdinalIgnoreCase);
        var latencyTargets = new Dictionary<string, long>(options.LatencyTargetsMs, StringComparer.OrdinalIgnoreCase);
        var reverse = new List<Recommendation>();
        var forward = new List<Recommendation>();
        var unsure = new List<Recommendation>();
        var doNotRoute = new List<Recommendation>();
        foreach (var task in report.TaskCosts)
        {
            var current = task.CostUsd * factor;
            var taskReverse = BiggerModelCheaperInTotal(task, factor, current, prices);
            var suggestion = taskReverse is null ? CheaperModel(task, evidence, options, factor, current) : null;
            var notRoute = WhenNotToRoute(task, options, factor, current, mustBePerfect, latencyTargets, suggestion);
            if (taskReverse is not null)
            {
                reverse.Add(taskReverse);
            }

            // A task that should not be routed keeps its model: the suggestion is named in the reason instead.
            var keep = notRoute is not null && (mustBePerfect.Contains(task.Task) || IsSmall(task, options, factor, current));
            if (suggestion is not null && !keep)
            {
                (suggestion.Kind == RecommendationKind.CheaperModel ? forward : unsure).Add(suggestion);
            }

            if (notRoute is not null)
            {
                doNotRoute.Add(notRoute);
            }
        }

        return [.. reverse, .. forward, .. unsure, .. doNotRoute];
    }

    /// <summary>
    /// What the audit says about the configured learned router: null when its in-domain evidence beats random (the
    /// proxy serves it), else a recommendation that says it will not be served and how to earn it.
    /// </summary>
    /// <param name="router">The router the proxy is configured with.</param>
    /// <param name="path">Its file, for the message.</param>
    /// <param name="alias">The alias it would serve.</param>
    public static Recommendation? LearnedRouter(Routing.LearnedRouter router, string path, string alias = "auto-learned")
    {
        ArgumentNullException.ThrowIfNull(router);
        var (allowed, reason) = Routing.LearnedRouterGuard.Check(router);
        return allowed ? null : new Recommendation
        {
            Task = "*",
            Kind = RecommendationKind.LearnedRouterNotServed,
            CurrentModel = alias,
            Model = "-",
            Reason = $"the proxy will not serve '{alias}' from {path} (unless ModelMix:LearnedRouter:Force is true): {reason}. "
                + "Collect shadow pairs, modelmix export --shadow, then modelmix train --quality-floor on that file.",
        };
    }

    // Retries and escalations to a model dearer per token made the cheap-first path cost more than sending the requests
    // straight there. A fallback to a model cheaper per token (an outage fallback) is not such a case: pinning to it would
    // be a cheaper model with no quality evidence.
    private static Recommendation? BiggerModelCheaperInTotal(AuditTaskCost task, decimal factor, decimal current, PriceBook prices)
    {
        Recommendation? best = null;
        foreach (var path in task.Paths)
        {
            if (path.Retries + path.Escalations == 0 || path.EscalationTarget is not { } target
                || !path.FirstAttemptRepricedUsd.TryGetValue(target, out var direct) || direct >= path.TotalUsd
                || Rates(prices, path.Model) is not { } from || Rates(prices, target) is not { } to
                || !(to.Output > from.Output && to.Input >= from.Input))
            {
                continue;
            }

            var saving = (path.TotalUsd - direct) * factor;
            if (best is null || saving > best.MonthlySavingUsd)
            {
                var infeasible = path.FirstAttemptInfeasibleCalls.GetValueOrDefault(target);
                best = new Recommendation
                {
                    InfeasibleCalls = infeasible,
                    Task = task.Task,
                    Kind = RecommendationKind.BiggerModelCheaperInTotal,
                    CurrentModel = path.Model,
                    Model = target,
                    CurrentMonthlyUsd = current,
                    RecommendedMonthlyUsd = current - saving,
                    Reason = $"{target} is dearer per token (${Usd(to.Input)}/${Usd(to.Output)} per million input/output tokens against {path.Model}'s ${Usd(from.Input)}/${Usd(from.Output)}) "
                        + $"but cheaper in total: {path.Requests} requests started on {path.Model} and cost ${Usd(path.TotalUsd)} with {path.Retries} retries and {path.Escalations} escalations "
                        + $"(${Usd(path.RetryUsd + path.EscalationUsd)} of it); sent straight to {target} they would cost ${Usd(direct)}." + Infeasible(infeasible, target),
                };
            }
        }

        return best;
    }

    private static Recommendation? CheaperModel(AuditTaskCost task, IReadOnlyDictionary<string, IReadOnlyDictionary<string, (long Trials, long Agreements)>> evidence, RecommendationOptions options, decimal factor, decimal current)
    {
        if (!evidence.TryGetValue(task.Task, out var models))
        {
            return null;
        }

        Recommendation? maybe = null;
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
                return new Recommendation
                {
                    Task = task.Task, Kind = RecommendationKind.CheaperModel, CurrentModel = task.MainModel, Model = model, Agreement = interval,
                    MoreSamplesNeeded = 0, CurrentMonthlyUsd = current, RecommendedMonthlyUsd = monthly, InfeasibleCalls = infeasibleCalls,
                    Reason = $"{model}: {range}." + Infeasible(infeasibleCalls, model),
                };
            }

            maybe ??= more is { } n ? new Recommendation
            {
                Task = task.Task, Kind = RecommendationKind.NeedsMoreEvidence, CurrentModel = task.MainModel, Model = model, Agreement = interval,
                MoreSamplesNeeded = n, CurrentMonthlyUsd = current, RecommendedMonthlyUsd = monthly, InfeasibleCalls = infeasibleCalls,
                Reason = $"{model}: {range}; about {n} more samples at this rate would make the lower bound clear the bar." + Infeasible(infeasibleCalls, model),
            } : null;
        }

        return maybe;
    }

    private static bool IsSmall(AuditTaskCost task, RecommendationOptions options, decimal factor, decimal current) =>
        (options.MinMonthlyRequests > 0 && task.Requests * factor < options.MinMonthlyRequests)
        || (options.MinMonthlyUsd > 0 && current < options.MinMonthlyUsd);

    // When not to route: the reasons that apply to the task, or null. Volume and money only matter for a task with a
    // routing suggestion (otherwise there is nothing to hold back); must-be-perfect and latency targets always show.
    private static Recommendation? WhenNotToRoute(AuditTaskCost task, RecommendationOptions options, decimal factor, decimal current,
        HashSet<string> mustBePerfect, Dictionary<string, long> latencyTargets, Recommendation? suggestion)
    {
        var reasons = new List<string>();
        if (mustBePerfect.Contains(task.Task))
        {
            reasons.Add("it is labelled must-be-perfect: a cheaper model's occasional miss costs more than it saves");
        }

        if (suggestion is not null)
        {
            var monthlyRequests = task.Requests * factor;
            if (options.MinMonthlyRequests > 0 && monthlyRequests < options.MinMonthlyRequests)
            {
                reasons.Add($"it runs about {monthlyRequests.ToString("N0", CultureInfo.InvariantCulture)} requests a month, under {options.MinMonthlyRequests.ToString("N0", CultureInfo.InvariantCulture)}: the savings rarely pay for the work of routing it");
            }

            if (options.MinMonthlyUsd > 0 && current < options.MinMonthlyUsd)
            {
                reasons.Add($"it costs about ${Usd(current)} a month, under ${Usd(options.MinMonthlyUsd)}");
            }
        }

        if (latencyTargets.TryGetValue(task.Task, out var target))
        {
            var now = task.P95LatencyMs is { } p95 ? $"its first attempts' p95 is {p95.ToString("N0", CultureInfo.InvariantCulture)} ms" : "no latency recorded yet";
            reasons.Add($"it has a p95 latency target of {target.ToString("N0", CultureInfo.InvariantCulture)} ms ({now}): route it by pins and rules only, since a cascade, a meta-router call or an escalation adds a whole call's latency");
        }

        if (reasons.Count == 0)
        {
            return null;
        }

        var held = suggestion is null || !(mustBePerfect.Contains(task.Task) || IsSmall(task, options, factor, current))
            ? string.Empty
            : $" Not suggested for that reason: {suggestion.Model} would save about ${Usd(suggestion.MonthlySavingUsd)} a month ({suggestion.Reason.TrimEnd('.')}).";
        return new Recommendation
        {
            Task = task.Task,
            Kind = RecommendationKind.DoNotRoute,
            CurrentModel = task.MainModel,
            Model = task.MainModel ?? "-",
            CurrentMonthlyUsd = current,
            RecommendedMonthlyUsd = current,
            Reason = "when not to route: " + string.Join("; ", reasons) + "." + held,
        };
    }

    /// <summary>The sentence a recommendation adds when its model could not have served some of the calls it is priced on.</summary>
    private static string Infeasible(long calls, string model) => calls == 0 ? string.Empty :
        $" {calls} of these calls could not have run on {model} (prompt over its context window, output over its maximum, or an inference_geo it refuses): " +
        "they are priced at what they cost as recorded, and routing would keep them on a model that accepts them.";

    private static ModelPrice? Rates(PriceBook prices, string model) =>
        prices.TryGetEntry(model, out var entry) && entry.Periods.Count > 0 ? entry.Periods[^1] : null;

    private static decimal LatestOutputRate(PriceBook prices, string model) => prices.GetEntry(model).Periods[^1].Output;

    private static string Usd(decimal value) => value.ToString("0.00####", CultureInfo.InvariantCulture);

    private static string Pct(double value) => (value * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%";
}
