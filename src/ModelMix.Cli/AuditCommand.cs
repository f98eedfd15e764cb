using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Pricing;
using Spectre.Console;

namespace ModelMix.Cli;

/// <summary>
/// <c>modelmix audit</c>: where the money went over a range of the ledger, what routing, caching and batching saved,
/// flags, and with <c>--recommend</c> / <c>--forecast</c> the pins to make next and the spend they lead to.
/// </summary>
internal static class AuditCommand
{
    public static Command Create()
    {
        var db = CommonOptions.Db();
        db.Aliases.Add("--store");
        var from = CommonOptions.Instant("--from", "Only records at or after this time.");
        var to = CommonOptions.Instant("--to", "Only records before this time (exclusive).");
        var format = new Option<string>("--format") { Description = "Output format: table, json or markdown.", DefaultValueFactory = _ => "table" }.AcceptOnlyFromAmong("table", "json", "markdown");
        var chart = new Option<string?>("--chart") { Description = "Also write an SVG chart of spend per day by model to this file (name it .svg)." };
        var prices = CommonOptions.Prices();
        var routingStart = CommonOptions.Instant("--routing-start", "When routing started (default: the first routed record).");
        var top = new Option<string>("--top-model") { Description = "The model of the 'all on the top model' bill.", DefaultValueFactory = _ => "opus" };
        var baseline = new Option<string?>("--baseline-model") { Description = "The model of the 'all on the model used before routing' bill (default: the most used before routing)." };
        var bounds = new Option<string[]>("--tier-bound") { Description = "A tier's largest share of calls, e.g. opus=20 (percent); repeatable. Default opus=20." };
        var lowVolume = new Option<decimal>("--low-volume-usd") { Description = "Flag tasks projected under this many USD a month.", DefaultValueFactory = _ => 10m };
        var runaway = new Option<decimal>("--runaway-usd-per-minute") { Description = "Flag sessions spending this fast (with at least --runaway-min-usd in total).", DefaultValueFactory = _ => 0.5m };
        var runawayMin = new Option<decimal>("--runaway-min-usd") { Description = "Smallest session total a runaway flag considers.", DefaultValueFactory = _ => 1m };
        var recommend = new Option<bool>("--recommend") { Description = "Suggest pins per task label, from --evidence or else the ledger's shadow pairs." };
        var evidence = new Option<string?>("--evidence") { Description = "A routing-dataset JSONL file (shadow export or evaluation) with quality per model; default: the ledger's shadow pairs." };
        var map = new Option<string[]>("--map") { Description = "Rename an evidence model to a price book model or tier, e.g. claude-instant-v1=haiku; repeatable." };
        var bar = new Option<double>("--bar") { Description = "Agreement rate a cheaper model must reach (0-1).", DefaultValueFactory = _ => 0.95 };
        var confidence = new Option<double>("--confidence") { Description = "Confidence level of the Wilson interval.", DefaultValueFactory = _ => 0.95 };
        var reference = new Option<string?>("--reference") { Description = "Reference model of the agreement (default: each sample's dearest model)." };
        var apply = new Option<string?>("--apply") { Description = "Write the suggested pins into this config file for review (never the running config)." };
        var forecast = new Option<bool>("--forecast") { Description = "Project monthly spend before and after the recommendations from the last --weeks of the ledger." };
        var weeks = new Option<int>("--weeks") { Description = "Weeks of history for --forecast.", DefaultValueFactory = _ => 4 };
        var commit = new Option<bool>("--commit") { Description = "With --forecast: propose a committed monthly spend from the optimized forecast floor, with its headroom and assumptions." };
        var headroom = new Option<decimal>("--commit-headroom") { Description = "The share to leave below the optimized floor when sizing a commitment (0 to 0.9).", DefaultValueFactory = _ => SpendForecast.DefaultHeadroom };
        var minRequests = new Option<long>("--min-monthly-requests") { Description = "When not to route: a task under this many requests a month is not worth routing (0: off).", DefaultValueFactory = _ => 10_000 };
        var latency = new Option<string[]>("--latency-target") { Description = "When not to route: a task's p95 latency target, e.g. autocomplete=800 (milliseconds); repeatable." };
        var perfect = new Option<string[]>("--must-be-perfect") { Description = "When not to route: a task label whose answers must be perfect (no cheaper model is suggested); repeatable." };
        var sessionWindow = new Option<string>("--session-window")
        {
            Description = "How far back from the range's end (or the latest call) per-session statistics, runaway flags and p95 latencies read raw rows: e.g. 1d, 12h, 7d, or all (the whole range; a GROUP BY over every raw row).",
            DefaultValueFactory = _ => "1d",
        };
        var learnedRouter = new Option<string?>("--router") { Description = "The learned router file the proxy serves (ModelMix:LearnedRouter:Path): --recommend says whether its evidence earns it traffic." };
        var command = new Command("audit", "Where the money goes: spend by model, task, key and day; savings; flags; recommendations (and when not to route); forecast and commit sizing.")
        {
            db, from, to, format, chart, prices, routingStart, top, baseline, bounds, lowVolume, runaway, runawayMin,
            recommend, evidence, map, bar, confidence, reference, apply, forecast, weeks, commit, headroom, minRequests, latency, perfect, learnedRouter, sessionWindow,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            try
            {
                var dbPath = result.GetValue(db)!;
                if (ModelMix.Stores.StoreLocation.NamesMissingFile(dbPath))
                {
                    await error.WriteLineAsync($"modelmix audit: the ledger '{dbPath}' does not exist (pass --db PATH).");
                    return 1;
                }

                var book = result.GetValue(prices) is { } path ? PriceBook.Load(path) : PriceBook.Default;
                var wantsForecast = result.GetValue(forecast) || result.GetValue(commit);
                var wantsRecommendations = result.GetValue(recommend) || wantsForecast || result.GetValue(apply) is not null;
                var recommendationOptions = new RecommendationOptions
                {
                    Bar = result.GetValue(bar),
                    Confidence = result.GetValue(confidence),
                    ReferenceModel = result.GetValue(reference),
                    MinMonthlyRequests = result.GetValue(minRequests),
                    MinMonthlyUsd = result.GetValue(lowVolume),
                    LatencyTargetsMs = ParseLatencyTargets(result.GetValue(latency) ?? []),
                    MustBePerfect = result.GetValue(perfect) ?? [],
                };
                IReadOnlyDictionary<string, IReadOnlyDictionary<string, (long Trials, long Agreements)>> summary =
                    new Dictionary<string, IReadOnlyDictionary<string, (long, long)>>();
                if (wantsRecommendations && result.GetValue(evidence) is { } evidencePath)
                {
                    var source = new RoutingDatasetEvidence(evidencePath, ParseMap(result.GetValue(map) ?? []));
                    summary = await RecommendationEngine.SummarizeAsync(source, book, recommendationOptions, cancellationToken);
                }
                else if (wantsRecommendations)
                {
                    // No evidence file: the ledger's own shadow pairs (shadow mode) are the evidence.
                    await using var pairStore = ModelMix.Stores.StoreLocation.Parse(dbPath).CreateLedgerStore();
                    await pairStore.MigrateAsync(cancellationToken);
                    if (pairStore is not ModelMix.Shadow.IShadowPairStore pairs)
                    {
                        await error.WriteLineAsync("modelmix audit: this store keeps no shadow pairs; pass --evidence FILE (a routing dataset, e.g. from `modelmix export --shadow`).");
                        return 1;
                    }

                    var source = new ShadowPairEvidence(pairs, result.GetValue(from), result.GetValue(to));
                    summary = await RecommendationEngine.SummarizeAsync(source, book, recommendationOptions, cancellationToken);
                }

                var forecastTo = result.GetValue(to) ?? DateTimeOffset.UtcNow;
                var forecastFrom = forecastTo.AddDays(-7 * Math.Max(1, result.GetValue(weeks)));
                var options = new AuditOptions
                {
                    From = wantsForecast ? forecastFrom : result.GetValue(from),
                    To = wantsForecast ? forecastTo : result.GetValue(to),
                    RoutingStart = result.GetValue(routingStart),
                    TopModel = result.GetValue(top)!,
                    BaselineModel = result.GetValue(baseline),
                    TierCallShareBounds = ParseBounds(result.GetValue(bounds) ?? []),
                    LowVolumeMonthlyUsd = result.GetValue(lowVolume),
                    RunawayUsdPerMinute = result.GetValue(runaway),
                    RunawayMinSessionUsd = result.GetValue(runawayMin),
                    RepriceModels = summary.Values.SelectMany(models => models.Keys).Distinct(StringComparer.Ordinal).ToList(),
                    SessionWindow = ParseSessionWindow(result.GetValue(sessionWindow)!),
                };

                await using var store = ModelMix.Stores.StoreLocation.Parse(dbPath).CreateLedgerStore(); // SQLite file or postgres://
                await store.MigrateAsync(cancellationToken);
                var report = await RunWithProgressAsync(store, book, options, output, cancellationToken);
                var rawNote = ModelMix.Ledger.LedgerRawWindow.Note(await ModelMix.Ledger.LedgerRawWindow.OldestRawRowAsync(store, cancellationToken), report.FirstRecord);
                var recommendations = wantsRecommendations ? RecommendationEngine.Compute(report, summary, recommendationOptions, book) : null;
                if (recommendations is not null && result.GetValue(learnedRouter) is { } routerPath
                    && RecommendationEngine.LearnedRouter(ModelMix.Routing.LearnedRouter.Load(routerPath), routerPath) is { } unproven)
                {
                    recommendations = [unproven, .. recommendations];
                }

                var spendForecast = wantsForecast ? SpendForecast.Compute(report, recommendations ?? [], forecastFrom, forecastTo) : null;
                var commitSizing = result.GetValue(commit) ? spendForecast!.Commit(result.GetValue(headroom)) : null;
                IReadOnlyDictionary<string, string>? pins = null;
                if (result.GetValue(apply) is { } applyPath && recommendations is not null)
                {
                    pins = PinsConfigWriter.Write(applyPath, recommendations);
                }

                if (result.GetValue(chart) is { } chartPath)
                {
                    AuditChart.Save(report, chartPath);
                }

                switch (result.GetValue(format))
                {
                    case "json":
                        await output.WriteLineAsync(JsonSerializer.Serialize(ToJson(report, recommendations, spendForecast, commitSizing), Output.Json));
                        break;
                    case "markdown":
                        await output.WriteAsync(Markdown(report, recommendations, spendForecast, commitSizing));
                        break;
                    default:
                        Render(Output.Console(output), report, recommendations, spendForecast, commitSizing);
                        break;
                }

                if (rawNote is not null)
                {
                    await error.WriteLineAsync("modelmix audit: " + rawNote); // which raw window the raw-row figures cover (retention)
                }

                if (pins is not null)
                {
                    await error.WriteLineAsync($"modelmix audit: wrote {pins.Count} pin(s) to {result.GetValue(apply)} for review; start the proxy with --config {result.GetValue(apply)} to use them.");
                }

                return 0;
            }
            catch (Exception exception) when (exception is FormatException or PricingException or FileNotFoundException or IOException or InvalidOperationException or ArgumentException or System.Data.Common.DbException or ModelMix.Routing.RoutingConfigurationException)
            {
                await error.WriteLineAsync("modelmix audit: " + CliErrors.Message(exception));
                return 1;
            }
        });
        return command;
    }

    private static async Task<AuditReport> RunWithProgressAsync(ILedgerStore store, PriceBook book, AuditOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        if (!ReferenceEquals(output, Console.Out) || Console.IsOutputRedirected)
        {
            return await AuditRunner.RunAsync(store, book, options, null, cancellationToken);
        }

        AuditReport? report = null;
        await AnsiConsole.Status().StartAsync("Reading the ledger…", async status =>
        {
            var progress = new Progress<long>(read => status.Status($"Reading the ledger… {read:N0} records"));
            report = await AuditRunner.RunAsync(store, book, options, progress, cancellationToken);
        });
        return report!;
    }

    private static Dictionary<string, string> ParseMap(string[] values)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            var parts = value.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                throw new FormatException($"--map '{value}': expected DATASET_MODEL=MODEL, e.g. claude-instant-v1=haiku.");
            }

            map[parts[0]] = parts[1];
        }

        return map;
    }

    private static Dictionary<string, long> ParseLatencyTargets(string[] values)
    {
        var targets = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        foreach (var value in values)
        {
            var parts = value.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[0].Length == 0 || !long.TryParse(parts[1].TrimEnd('s').TrimEnd('m'), NumberStyles.None, CultureInfo.InvariantCulture, out var ms) || ms <= 0)
            {
                throw new FormatException($"--latency-target '{value}': expected TASK=MILLISECONDS, e.g. autocomplete=800.");
            }

            targets[parts[0]] = ms;
        }

        return targets;
    }

    private static Dictionary<string, decimal> ParseBounds(string[] values)
    {
        var bounds = new Dictionary<string, decimal>(StringComparer.OrdinalIgnoreCase);
        foreach (var value in values.Length == 0 ? ["opus=20"] : values)
        {
            var parts = value.TrimEnd('%').Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || !decimal.TryParse(parts[1].TrimEnd('%'), NumberStyles.Number, CultureInfo.InvariantCulture, out var percent) || percent < 0 || percent > 100)
            {
                throw new FormatException($"--tier-bound '{value}': expected TIER=PERCENT, e.g. opus=20.");
            }

            bounds[parts[0]] = percent / 100m;
        }

        return bounds;
    }

    /// <summary>The documented <c>--format json</c> shape (docs/audit.md), spelled out so that renaming a property never changes it.</summary>
    internal static object ToJson(AuditReport r, IReadOnlyList<Recommendation>? recommendations, SpendForecast? forecast, CommitSizing? commitSizing = null) => new
    {
        from = r.From,
        to = r.To,
        first_record = r.FirstRecord,
        last_record = r.LastRecord,
        routing_start = r.RoutingStart,
        calls = r.Calls,
        unpriced_calls = r.UnpricedCalls,
        unpriced_prompt_tokens = r.UnpricedPromptTokens,
        unpriced_output_tokens = r.UnpricedOutputTokens,
        total_usd = r.TotalUsd,
        monthly_factor = r.MonthlyFactor,
        by_model = r.ByModel.Select(Bucket),
        by_model_and_effort = r.ByModelAndEffort.Select(b => new
        {
            model = b.Model, effort = b.Effort, calls = b.Calls, prompt_tokens = b.PromptTokens, output_tokens = b.OutputTokens,
            cost_usd = b.CostUsd, unpriced_calls = b.UnpricedCalls, default_effort_calls = b.DefaultEffortCalls, default_effort_share = b.DefaultEffortShare,
        }),
        by_task = r.ByTask.Select(Bucket),
        by_key = r.ByKey.Select(Bucket),
        by_day = r.ByDay.Select(Bucket),
        sessions = Sessions(r.Sessions),
        sessions_from = r.SessionWindowFrom,
        sessions_before_routing = Sessions(r.SessionsBeforeRouting),
        sessions_after_routing = Sessions(r.SessionsAfterRouting),
        tiers = r.Tiers.Select(t => new { tier = t.Tier, calls = t.Calls, call_share = t.CallShare, cost_usd = t.CostUsd, cost_share = t.CostShare }),
        cache = new
        {
            prompt_tokens = r.Cache.PromptTokens, cache_read_tokens = r.Cache.CacheReadTokens, cache_write_tokens = r.Cache.CacheWriteTokens,
            token_hit_rate = r.Cache.TokenHitRate, calls_with_cache_read = r.Cache.CallsWithCacheRead, call_hit_rate = r.Cache.CallHitRate,
            read_savings_usd = r.Cache.ReadSavingsUsd, write_premium_usd = r.Cache.WritePremiumUsd, net_savings_usd = r.Cache.NetSavingsUsd,
        },
        batch = new { calls = r.Batch.Calls, call_share = r.Batch.CallShare, cost_usd = r.Batch.CostUsd, savings_usd = r.Batch.SavingsUsd },
        escalations = new
        {
            requests = r.Escalations.Requests, escalated_requests = r.Escalations.EscalatedRequests, rate = r.Escalations.Rate,
            escalations = r.Escalations.Escalations, escalation_cost_usd = r.Escalations.EscalationCostUsd,
            retries = r.Escalations.Retries, retry_cost_usd = r.Escalations.RetryCostUsd,
            routing_calls = r.Escalations.RoutingCalls, routing_call_cost_usd = r.Escalations.RoutingCallCostUsd,
        },
        dropped_thinking = new { blocks_dropped = r.DroppedThinking.BlocksDropped, calls = r.DroppedThinking.Calls, cost_usd = r.DroppedThinking.CostUsd },
        client_disconnects_by_key = r.ClientDisconnectsByKey.Select(b => new { key = b.Name, calls = b.Calls, cost_usd = b.CostUsd, unpriced_calls = b.UnpricedCalls }),
        estimated_usage_calls = r.EstimatedUsageCalls,
        overrun_by_key = r.OverrunByKey.Select(o => new { key = o.Key, overrun_usd = o.OverrunUsd }),
        counterfactuals = r.Counterfactuals.Select(c => new { name = c.Name, model = c.Model, cost_usd = c.CostUsd, actual_usd = c.ActualUsd, saved_usd = c.SavedUsd, infeasible_calls = c.InfeasibleCalls, infeasible_usd = c.InfeasibleUsd }),
        flags = r.Flags.Select(f => new { kind = FlagCode(f.Kind), subject = f.Subject, message = f.Message }),
        recommendations = recommendations?.Select(x => new
        {
            task = x.Task,
            kind = KindCode(x.Kind),
            current_model = x.CurrentModel,
            model = x.Model,
            agreement = x.Agreement is { } a ? new { successes = a.Successes, trials = a.Trials, rate = a.Rate, lower = a.Lower, upper = a.Upper } : null,
            more_samples_needed = x.MoreSamplesNeeded,
            current_monthly_usd = x.CurrentMonthlyUsd,
            recommended_monthly_usd = x.RecommendedMonthlyUsd,
            monthly_saving_usd = x.MonthlySavingUsd,
            infeasible_calls = x.InfeasibleCalls,
            reason = x.Reason,
        }),
        forecast = forecast is null ? null : new
        {
            from = forecast.From, to = forecast.To, weekly_usd = forecast.WeeklyUsd,
            monthly_before_usd = forecast.MonthlyBeforeUsd, monthly_saving_usd = forecast.MonthlySavingUsd, monthly_after_usd = forecast.MonthlyAfterUsd,
            infeasible_calls = forecast.InfeasibleCalls,
            commit = commitSizing is null ? null : new
            {
                floor_monthly_usd = commitSizing.FloorMonthlyUsd,
                quietest_week_monthly_usd = commitSizing.QuietestWeekMonthlyUsd,
                headroom = commitSizing.Headroom,
                committed_monthly_usd = commitSizing.CommittedMonthlyUsd,
                assumptions = commitSizing.Assumptions,
            },
        },
    };

    private static object Bucket(AuditBucket b) => new { name = b.Name, calls = b.Calls, cost_usd = b.CostUsd, unpriced_calls = b.UnpricedCalls };

    private static object? Sessions(AuditSessionStats? s) => s is null ? null : new { sessions = s.Sessions, mean_usd = s.MeanUsd, p50_usd = s.P50Usd, p95_usd = s.P95Usd, total_usd = s.TotalUsd };

    internal static string FlagCode(AuditFlagKind kind) => kind switch
    {
        AuditFlagKind.TierShare => "tier-share",
        AuditFlagKind.LowVolumeTask => "low-volume-task",
        AuditFlagKind.RunawaySession => "runaway-session",
        AuditFlagKind.DroppedThinking => "dropped-thinking",
        AuditFlagKind.ClientDisconnected => "client-disconnected",
        AuditFlagKind.UnpricedModel => "unpriced-model",
        _ => kind.ToString(),
    };

    internal static string KindCode(RecommendationKind kind) => kind switch
    {
        RecommendationKind.CheaperModel => "cheaper-model",
        RecommendationKind.NeedsMoreEvidence => "needs-more-evidence",
        RecommendationKind.BiggerModelCheaperInTotal => "bigger-model-cheaper-in-total",
        RecommendationKind.DoNotRoute => "do-not-route",
        RecommendationKind.LearnedRouterNotServed => "learned-router-not-served",
        _ => kind.ToString(),
    };

    /// <summary>"all" (null: the whole range), or a whole number of hours ("12h") or days ("1d").</summary>
    internal static TimeSpan? ParseSessionWindow(string text)
    {
        if (string.Equals(text, "all", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (text.Length >= 2 && long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is > 0 and <= 100_000)
        {
            switch (char.ToLowerInvariant(text[^1]))
            {
                case 'h':
                    return TimeSpan.FromHours(n);
                case 'd':
                    return TimeSpan.FromDays(n);
            }
        }

        throw new FormatException($"--session-window '{text}' is not 'all' or a number of hours or days such as 12h or 1d.");
    }

    /// <summary>Which calls the per-session figures cover.</summary>
    private static string SessionCoverage(AuditReport r) =>
        r.SessionWindowFrom is { } since
            ? $"calls from {since.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC on (--session-window)"
            : "the whole range";

    /// <summary>The sections every text format shows: a title and rows of cells.</summary>
    private static List<(string Title, string[] Header, List<string[]> Rows)> Sections(AuditReport r, IReadOnlyList<Recommendation>? recommendations, SpendForecast? forecast, CommitSizing? commitSizing)
    {
        static string[] Row(AuditBucket b) => [b.Name, b.Calls.ToString("N0", CultureInfo.InvariantCulture), Output.Usd(b.CostUsd)];
        var sections = new List<(string, string[], List<string[]>)>
        {
            ("Spend by model", ["model", "calls", "cost"], r.ByModel.Select(Row).ToList()),
            ("Spend by model and effort", ["model", "effort", "calls", "prompt tokens", "output tokens", "cost", "default effort"],
                r.ByModelAndEffort.Select(b => new[]
                {
                    b.Model, b.Effort, b.Calls.ToString("N0", CultureInfo.InvariantCulture), b.PromptTokens.ToString("N0", CultureInfo.InvariantCulture),
                    b.OutputTokens.ToString("N0", CultureInfo.InvariantCulture), Output.Usd(b.CostUsd), Pct(b.DefaultEffortShare),
                }).ToList()),
            ("Spend by task", ["task", "calls", "cost"], r.ByTask.Select(Row).ToList()),
            ("Spend by key", ["key id", "calls", "cost"], r.ByKey.Select(Row).ToList()),
            ("Spend by day (UTC)", ["day", "calls", "cost"], r.ByDay.Select(Row).ToList()),
            ("Model mix", ["tier", "calls", "share of calls", "cost", "share of cost"],
                r.Tiers.Select(t => new[] { t.Tier, t.Calls.ToString("N0", CultureInfo.InvariantCulture), Pct(t.CallShare), Output.Usd(t.CostUsd), Pct(t.CostShare) }).ToList()),
        };
        var sessionRows = new List<string[]>();
        void AddSessions(string name, AuditSessionStats? s)
        {
            if (s is not null)
            {
                sessionRows.Add([name, s.Sessions.ToString("N0", CultureInfo.InvariantCulture), Output.Usd(s.MeanUsd), Output.Usd(s.P50Usd), Output.Usd(s.P95Usd)]);
            }
        }

        AddSessions("all", r.Sessions);
        AddSessions("before routing", r.SessionsBeforeRouting);
        AddSessions("after routing", r.SessionsAfterRouting);
        sections.Add(($"Cost per conversation ({SessionCoverage(r)})", ["sessions", "count", "mean", "p50", "p95"], sessionRows));
        sections.Add(("Savings and overheads", ["what", "value"],
        [
            ["cache hit rate (tokens / calls)", $"{Pct(r.Cache.TokenHitRate)} / {Pct(r.Cache.CallHitRate)}"],
            ["caching saved (reads, net of write premium)", $"{Output.Usd(r.Cache.ReadSavingsUsd)} ({Output.Usd(r.Cache.NetSavingsUsd)} net)"],
            ["batch share / batch saved", $"{Pct(r.Batch.CallShare)} / {Output.Usd(r.Batch.SavingsUsd)}"],
            ["escalation rate / escalation cost", $"{Pct(r.Escalations.Rate)} ({r.Escalations.EscalatedRequests} of {r.Escalations.Requests} requests) / {Output.Usd(r.Escalations.EscalationCostUsd)}"],
            ["retries / retry cost", $"{r.Escalations.Retries} / {Output.Usd(r.Escalations.RetryCostUsd)}"],
            ["routing calls (meta-router) / their cost", $"{r.Escalations.RoutingCalls} / {Output.Usd(r.Escalations.RoutingCallCostUsd)}"],
            .. r.DroppedThinking.BlocksDropped > 0
                ? [new[] { "dropped thinking: blocks / calls / their cost", $"{r.DroppedThinking.BlocksDropped} / {r.DroppedThinking.Calls} / {Output.Usd(r.DroppedThinking.CostUsd)}" }]
                : Array.Empty<string[]>(),
            .. r.ClientDisconnectsByKey.Select(b => new[] { $"client hung up (key {b.Name}): calls / their cost", $"{b.Calls} / {Output.Usd(b.CostUsd)}" }),
            .. r.OverrunByKey.Select(o => new[] { $"charged to no key: overrun beyond cap (key {o.Key})", Output.Usd(o.OverrunUsd) }),
            .. r.Counterfactuals.Select(c => new[] { $"{c.Name} ({c.Model})", $"{Output.Usd(c.CostUsd)} against {Output.Usd(c.ActualUsd)} actual (the actual mix saved {Output.Usd(c.SavedUsd)})" +
                (c.InfeasibleCalls > 0 ? $"; {c.InfeasibleCalls} call(s) could not have run on it, counted as recorded ({Output.Usd(c.InfeasibleUsd)})" : "") }),
            .. r.UnpricedCalls > 0
                ? [new[] { "unpriced calls, left out of every figure above", $"{r.UnpricedCalls:N0} calls, {r.UnpricedPromptTokens:N0} prompt / {r.UnpricedOutputTokens:N0} output tokens" }]
                : Array.Empty<string[]>(),
        ]));
        sections.Add(("Flags", ["flag", "subject", "message"], r.Flags.Select(f => new[] { FlagCode(f.Kind), f.Subject, f.Message }).ToList()));
        if (recommendations is not null)
        {
            sections.Add(("Recommendations", ["task", "kind", "now", "pin to", "monthly now", "monthly after", "monthly saving", "why"],
                recommendations.Select(x => new[] { x.Task, KindCode(x.Kind), x.CurrentModel ?? "", x.Model, Output.Usd(x.CurrentMonthlyUsd), Output.Usd(x.RecommendedMonthlyUsd), Output.Usd(x.MonthlySavingUsd), x.Reason }).ToList()));
        }

        if (forecast is not null)
        {
            sections.Add(("Forecast", ["what", "value"],
            [
                ["window", $"{forecast.From:yyyy-MM-dd} → {forecast.To:yyyy-MM-dd}"],
                ["weekly spend", string.Join(", ", forecast.WeeklyUsd.Select(Output.Usd))],
                ["monthly before", Output.Usd(forecast.MonthlyBeforeUsd)],
                ["monthly after recommendations", Output.Usd(forecast.MonthlyAfterUsd)],
                .. forecast.InfeasibleCalls > 0
                    ? [new[] { "calls the pinned models could not serve", $"{forecast.InfeasibleCalls} (counted at their recorded cost, not as savings)" }]
                    : Array.Empty<string[]>(),
            ]));
        }

        if (commitSizing is not null)
        {
            sections.Add(("Commit sizing", ["what", "value"],
            [
                ["optimized floor (monthly)", Output.Usd(commitSizing.FloorMonthlyUsd)],
                ["quietest full week, optimized (monthly)", commitSizing.QuietestWeekMonthlyUsd is { } q ? Output.Usd(q) : "-"],
                ["headroom below the floor", Pct(commitSizing.Headroom)],
                ["proposed committed monthly spend", Output.Usd(commitSizing.CommittedMonthlyUsd)],
                .. commitSizing.Assumptions.Select(a => new[] { "assumes", a }),
            ]));
        }

        return sections;
    }

    private static string Headline(AuditReport r) =>
        $"{r.Calls:N0} calls, {Output.Usd(r.TotalUsd)} recorded" + (r.UnpricedCalls > 0 ? $" ({r.UnpricedCalls} unpriced)" : "") +
        (r.FirstRecord is { } f && r.LastRecord is { } l ? $", {f:yyyy-MM-dd HH:mm} → {l:yyyy-MM-dd HH:mm} UTC" : "") +
        (r.RoutingStart is { } s ? $"; routing since {s:yyyy-MM-dd HH:mm}" : "; nothing routed");

    private static void Render(IAnsiConsole console, AuditReport r, IReadOnlyList<Recommendation>? recommendations, SpendForecast? forecast, CommitSizing? commitSizing)
    {
        // Cells carry what callers sent (task labels, session ids, model names): printed as text, never as Spectre
        // markup or as terminal escape sequences.
        console.MarkupLine(Markup.Escape(Output.Printable(Headline(r))));
        foreach (var (title, header, rows) in Sections(r, recommendations, forecast, commitSizing))
        {
            var table = new Table().Title(title);
            for (var i = 0; i < header.Length; i++)
            {
                table.AddColumn(i > 0 && header[i] is not ("why" or "message" or "value" or "subject" or "kind" or "now" or "pin to" or "effort") ? new TableColumn(header[i]).RightAligned() : new TableColumn(header[i]));
            }

            foreach (var row in rows)
            {
                table.AddRow(row.Select(cell => Markup.Escape(Output.Printable(cell))).ToArray());
            }

            console.Write(table);
        }
    }

    private static string Markdown(AuditReport r, IReadOnlyList<Recommendation>? recommendations, SpendForecast? forecast, CommitSizing? commitSizing)
    {
        var text = new StringBuilder();
        text.Append("# ModelMix audit\n\n").Append(MarkdownCell(Headline(r))).Append("\n\n");
        foreach (var (title, header, rows) in Sections(r, recommendations, forecast, commitSizing))
        {
            text.Append("## ").Append(title).Append("\n\n");
            text.Append("| ").AppendJoin(" | ", header.Select(MarkdownCell)).Append(" |\n");
            text.Append('|').AppendJoin('|', header.Select(_ => " --- ")).Append("|\n");
            foreach (var row in rows)
            {
                text.Append("| ").AppendJoin(" | ", row.Select(MarkdownCell)).Append(" |\n");
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    /// <summary>
    /// A Markdown table cell from text that may carry what callers sent: control characters become visible escapes
    /// (<see cref="Output.Printable"/>), HTML is shown as text (<c>&amp;</c>, <c>&lt;</c>, <c>&gt;</c> as entities), and
    /// the characters that would make a link, an image, a code span or a new cell are backslash-escaped.
    /// </summary>
    internal static string MarkdownCell(string value)
    {
        var printable = Output.Printable(value.Replace("\n", " ", StringComparison.Ordinal));
        var cell = new StringBuilder(printable.Length + 8);
        foreach (var c in printable)
        {
            _ = c switch
            {
                '&' => cell.Append("&amp;"),
                '<' => cell.Append("&lt;"),
                '>' => cell.Append("&gt;"),
                '\\' or '|' or '[' or ']' or '`' => cell.Append('\\').Append(c),
                _ => cell.Append(c),
            };
        }

        return cell.ToString();
    }

    private static string Pct(decimal fraction) => (fraction * 100m).ToString("0.0", CultureInfo.InvariantCulture) + "%";
}
