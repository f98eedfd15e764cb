using System.Text;
using System.Text.Json;
using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Cli;

namespace ModelMix.Tests.Audit;

/// <summary>
/// Savings are worked out by hand at the 4.x tier prices of <see cref="AuditLedger"/> (Haiku 4.5 $1/$5, Sonnet 4.6
/// $3/$15, Opus 4.6 $5/$25), so the audits and evidence run on <see cref="TestPrices.Tiers4x"/>.
/// </summary>
public sealed class RecommendationTests
{
    private static PriceBook Book => TestPrices.Tiers4x;

    [Fact]
    public void Wilson_interval_matches_the_textbook_values()
    {
        var interval = WilsonInterval.Compute(8, 10, 0.95);
        Assert.Equal(0.4902, interval.Lower, 4);
        Assert.Equal(0.9433, interval.Upper, 4);
        Assert.Equal(1.95996, WilsonInterval.Z(0.95), 4);

        var all = WilsonInterval.Compute(60, 60);
        Assert.Equal(60 / (60 + (1.959964 * 1.959964)), all.Lower, 4);
        // n / (n + z²) ≥ 0.95 ⇔ n ≥ 0.95 · 3.841459 / 0.05 = 72.99, so 73 samples: 13 more.
        Assert.Equal(13, all.MoreTrialsToClear(0.95));
        Assert.Null(WilsonInterval.Compute(9, 10).MoreTrialsToClear(0.95)); // 90% can never clear a 95% bar
        Assert.Equal(0, WilsonInterval.Compute(100, 100).MoreTrialsToClear(0.95));
    }

    private static string Evidence(TempFolder folder, string task, int samples, int haikuAgrees)
    {
        var text = new StringBuilder();
        for (var i = 0; i < samples; i++)
        {
            var haiku = i < haikuAgrees ? 1.0 : 0.0;
            text.Append(JsonSerializer.Serialize(new
            {
                id = $"s{i}", task, prompt = "p",
                candidates = new Dictionary<string, object>
                {
                    ["small-model"] = new { quality = haiku, cost_usd = 0.001 },
                    ["claude-sonnet-4-6"] = new { quality = 1.0, cost_usd = 0.01 },
                },
            })).Append('\n');
        }

        return folder.Write("evidence.jsonl", text.ToString());
    }

    // The seeded ledger is tiny: the volume rule of "when not to route" is off unless a test turns it on.
    private static readonly RecommendationOptions AnyVolume = new() { MinMonthlyRequests = 0 };

    private static async Task<(AuditReport Report, IReadOnlyList<Recommendation> Recommendations)> RecommendAsync(TempFolder folder, IReadOnlyList<LedgerRecord> records, string? evidencePath, RecommendationOptions? options = null)
    {
        var path = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), records);
        options ??= AnyVolume;
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, (long, long)>> summary = new Dictionary<string, IReadOnlyDictionary<string, (long, long)>>();
        if (evidencePath is not null)
        {
            summary = await RecommendationEngine.SummarizeAsync(
                new RoutingDatasetEvidence(evidencePath, new Dictionary<string, string> { ["small-model"] = "haiku" }), Book, options);
        }

        await using var store = new SqliteLedgerStore(path);
        await store.MigrateAsync();
        var report = await AuditRunner.RunAsync(store, Book, new AuditOptions { From = AuditLedger.Day1, To = AuditLedger.Day1.AddDays(2) });
        return (report, RecommendationEngine.Compute(report, summary, options, Book));
    }

    [Fact]
    public async Task Shadow_pairs_in_the_ledger_are_evidence_like_a_dataset_file()
    {
        using var folder = new TempFolder();
        var path = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), AuditLedger.Seed());
        await using (var pairs = new SqliteLedgerStore(path))
        {
            await pairs.MigrateAsync();
            for (var i = 0; i < 100; i++)
            {
                await pairs.WriteShadowPairAsync(new ModelMix.Shadow.ShadowPair
                {
                    PairId = $"pair{i}", LiveRequestId = $"req{i}", TaskLabel = "summarize",
                    LiveModel = "claude-sonnet-4-6", ShadowModel = "claude-haiku-4-5",
                    Method = ModelMix.Shadow.ShadowComparison.Exact, Agreement = 1.0, Status = "compared",
                    CreatedAt = AuditLedger.Day1, CompletedAt = AuditLedger.Day1,
                });
            }

            // A pair that was not compared is no evidence either way.
            await pairs.WriteShadowPairAsync(new ModelMix.Shadow.ShadowPair
            {
                PairId = "failed", LiveRequestId = "reqf", TaskLabel = "summarize",
                LiveModel = "claude-sonnet-4-6", ShadowModel = "claude-haiku-4-5",
                Method = ModelMix.Shadow.ShadowComparison.Exact, Agreement = null, Status = "shadow_failed",
                CreatedAt = AuditLedger.Day1, CompletedAt = AuditLedger.Day1,
            });
        }

        var options = AnyVolume;
        await using var store = new SqliteLedgerStore(path);
        await store.MigrateAsync();
        var summary = await RecommendationEngine.SummarizeAsync(new ShadowPairEvidence(store), Book, options);
        var report = await AuditRunner.RunAsync(store, Book, new AuditOptions { From = AuditLedger.Day1, To = AuditLedger.Day1.AddDays(2) });
        var recommendations = RecommendationEngine.Compute(report, summary, options, Book);

        // The same pins and saving as the dataset-file evidence of 100 agreeing samples (the test below).
        var summarize = Assert.Single(recommendations);
        Assert.Equal(("summarize", RecommendationKind.CheaperModel, "claude-haiku-4-5-20251001"), (summarize.Task, summarize.Kind, summarize.Model));
        Assert.Equal((0.0135m - 0.0045m) * 15.21875m, summarize.MonthlySavingUsd);
        Assert.Equal(100, summarize.Agreement!.Trials);
    }

    [Fact]
    public async Task The_cheapest_model_that_clears_the_bar_is_recommended_with_its_monthly_saving()
    {
        using var folder = new TempFolder();
        var (_, recommendations) = await RecommendAsync(folder, AuditLedger.Seed(), Evidence(folder, "summarize", 100, 100));

        var summarize = Assert.Single(recommendations);
        Assert.Equal(("summarize", RecommendationKind.CheaperModel, "claude-sonnet-4-6", "claude-haiku-4-5-20251001"), (summarize.Task, summarize.Kind, summarize.CurrentModel, summarize.Model));
        // On Haiku ($1 / $5 per MTok): r1 1000 × 1 / 1e6 + 200 × 5 / 1e6 = 0.001 + 0.001, r2 0.002 + 0.0005: 0.0045,
        // against the recorded 0.006 + 0.0075 = 0.0135 of the same two calls. r8 (mystery-model) is unpriced: in neither.
        // Two days → × 30.4375 / 2 = 15.21875.
        Assert.Equal(0.0135m * 15.21875m, summarize.CurrentMonthlyUsd);
        Assert.Equal(0.0045m * 15.21875m, summarize.RecommendedMonthlyUsd);
        Assert.Equal((0.0135m - 0.0045m) * 15.21875m, summarize.MonthlySavingUsd);
        Assert.True(summarize.Agreement!.Lower >= 0.95);
    }

    [Fact]
    public async Task Thin_evidence_says_how_many_more_samples_would_make_it_sure()
    {
        using var folder = new TempFolder();
        var (_, recommendations) = await RecommendAsync(folder, AuditLedger.Seed(), Evidence(folder, "summarize", 60, 60));

        var summarize = Assert.Single(recommendations);
        Assert.Equal(RecommendationKind.NeedsMoreEvidence, summarize.Kind);
        Assert.Equal(13, summarize.MoreSamplesNeeded);
        Assert.Contains("13 more samples", summarize.Reason, StringComparison.Ordinal);

        var (_, none) = await RecommendAsync(new TempFolder(), AuditLedger.Seed(), Evidence(folder, "summarize", 100, 80));
        Assert.Empty(none);
    }

    [Fact]
    public async Task Retries_and_escalations_can_make_the_bigger_model_cheaper_in_total()
    {
        using var folder = new TempFolder();
        var at = AuditLedger.Day2.AddHours(12);
        IReadOnlyList<LedgerRecord> records =
        [
            AuditLedger.Record("e1", at, "claude-haiku-4-5", "extract", 1000, 10, 0.00105m, request: "x1"),
            AuditLedger.Record("e2", at.AddMinutes(1), "claude-haiku-4-5", "extract", 1000, 10, 0.00105m, request: "x1", attempt: 2),
            AuditLedger.Record("e3", at.AddMinutes(2), "claude-sonnet-4-6", "extract", 1000, 100, 0.0045m, request: "x1", attempt: 3, escalatedFrom: "claude-haiku-4-5"),
        ];
        var (_, recommendations) = await RecommendAsync(folder, records, null);

        var extract = Assert.Single(recommendations);
        Assert.Equal((RecommendationKind.BiggerModelCheaperInTotal, "claude-haiku-4-5-20251001", "claude-sonnet-4-6"), (extract.Kind, extract.CurrentModel, extract.Model));
        // Cheap path 0.00105 × 2 + 0.0045 = 0.0066; the first attempt on Sonnet: 0.003 + 0.00015 = 0.00315.
        Assert.Equal((0.0066m - 0.00315m) * 15.21875m, extract.MonthlySavingUsd);
        // The evidence: Sonnet 4.6 is dearer per token ($3/$15 against Haiku 4.5's $1/$5) and cheaper in total.
        Assert.StartsWith("claude-sonnet-4-6 is dearer per token ($3.00/$15.00 per million input/output tokens against claude-haiku-4-5-20251001's $1.00/$5.00) but cheaper in total", extract.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_model_dearer_per_token_that_is_not_cheaper_in_total_is_not_suggested()
    {
        // Requests start on Haiku with long answers and escalate to Sonnet with short ones: the escalations cost money,
        // but sending the requests straight to Sonnet would cost more, so nothing is suggested.
        using var folder = new TempFolder();
        var at = AuditLedger.Day2.AddHours(12);
        IReadOnlyList<LedgerRecord> records =
        [
            // Haiku 4.5 at $1/$5 per MTok: 1,000 × 1 / 1e6 + 1,000 × 5 / 1e6 = 0.001 + 0.005 = 0.006.
            AuditLedger.Record("g1", at, "claude-haiku-4-5", "draft", 1000, 1000, 0.006m, request: "z1"),
            // Sonnet 4.6 at $3/$15: 1,000 × 3 / 1e6 + 10 × 15 / 1e6 = 0.003 + 0.00015 = 0.00315.
            AuditLedger.Record("g2", at.AddMinutes(1), "claude-sonnet-4-6", "draft", 1000, 10, 0.00315m, request: "z1", attempt: 2, escalatedFrom: "claude-haiku-4-5"),
        ];

        var (report, recommendations) = await RecommendAsync(folder, records, null);

        var path = Assert.Single(report.TaskCosts.Single(t => t.Task == "draft").Paths);
        Assert.Equal(0.00915m, path.TotalUsd); // 0.006 + 0.00315
        // The first attempt on Sonnet: 1,000 × 3 / 1e6 + 1,000 × 15 / 1e6 = 0.003 + 0.015 = 0.018, dearer than the path.
        Assert.Equal(0.018m, path.FirstAttemptRepricedUsd["claude-sonnet-4-6"]);
        Assert.Empty(recommendations);
    }

    [Fact]
    public async Task A_fallback_to_a_model_cheaper_per_token_is_never_a_bigger_model_suggestion()
    {
        // Requests started on Opus, failed over (an outage fallback) to Sonnet: the path through Opus costs more than
        // Sonnet's first attempts would, but Sonnet is cheaper per token, so pinning to it would be a cheaper model
        // with no quality evidence, not "a bigger model cheaper in total".
        using var folder = new TempFolder();
        var at = AuditLedger.Day2.AddHours(12);
        IReadOnlyList<LedgerRecord> records =
        [
            AuditLedger.Record("f1", at, "claude-opus-4-6", "review", 1000, 10, 0.00525m, request: "y1"),
            AuditLedger.Record("f2", at.AddMinutes(1), "claude-sonnet-4-6", "review", 1000, 100, 0.0045m, request: "y1", attempt: 2, escalatedFrom: "claude-opus-4-6"),
        ];

        var (report, recommendations) = await RecommendAsync(folder, records, null);

        var path = Assert.Single(report.TaskCosts.Single(t => t.Task == "review").Paths);
        Assert.Equal(("claude-opus-4-6", "claude-sonnet-4-6"), (path.Model, path.EscalationTarget));
        Assert.True(path.FirstAttemptRepricedUsd["claude-sonnet-4-6"] < path.TotalUsd); // what made the old rule fire
        Assert.Empty(recommendations);
    }

    [Fact]
    public async Task A_task_under_10k_requests_a_month_is_not_routed_and_the_suggestion_it_would_have_had_is_named()
    {
        using var folder = new TempFolder();
        var (_, recommendations) = await RecommendAsync(folder, AuditLedger.Seed(), Evidence(folder, "summarize", 100, 100), new RecommendationOptions());

        var summarize = Assert.Single(recommendations);
        Assert.Equal(RecommendationKind.DoNotRoute, summarize.Kind);
        Assert.Equal(("claude-sonnet-4-6", "claude-sonnet-4-6"), (summarize.CurrentModel, summarize.Model));
        Assert.Equal(0m, summarize.MonthlySavingUsd);
        // 3 first attempts in two days × 15.21875 ≈ 46 requests a month.
        Assert.Contains("it runs about 46 requests a month, under 10,000: the savings rarely pay for the work of routing it", summarize.Reason, StringComparison.Ordinal);
        // The seed's unpriced summarize call (r8) is left out of both sides since the audit money fix (issue 27): its
        // $0.000075 on Haiku no longer counts against the saving (+$0.000075 × 15.21875 ≈ $0.001142 a month).
        Assert.Contains("Not suggested for that reason: claude-haiku-4-5-20251001 would save about $0.136969", summarize.Reason, StringComparison.Ordinal);
        Assert.Empty(PinsConfigWriter.Write(Path.Combine(folder.Path, "pins.json"), recommendations));
    }

    [Fact]
    public async Task A_task_under_the_dollar_threshold_is_not_routed()
    {
        using var folder = new TempFolder();
        var (_, recommendations) = await RecommendAsync(folder, AuditLedger.Seed(), Evidence(folder, "summarize", 100, 100), AnyVolume with { MinMonthlyUsd = 10m });

        var summarize = Assert.Single(recommendations);
        Assert.Equal(RecommendationKind.DoNotRoute, summarize.Kind);
        Assert.Contains("it costs about $0.205453 a month, under $10.00", summarize.Reason, StringComparison.Ordinal); // 0.0135 × 15.21875
    }

    [Fact]
    public async Task A_must_be_perfect_task_gets_no_cheaper_model_whatever_the_evidence()
    {
        using var folder = new TempFolder();
        var (_, recommendations) = await RecommendAsync(folder, AuditLedger.Seed(), Evidence(folder, "summarize", 100, 100), AnyVolume with { MustBePerfect = ["Summarize"] });

        var summarize = Assert.Single(recommendations);
        Assert.Equal(RecommendationKind.DoNotRoute, summarize.Kind);
        Assert.StartsWith("when not to route: it is labelled must-be-perfect", summarize.Reason, StringComparison.Ordinal);
        Assert.Contains("Not suggested for that reason: claude-haiku-4-5-20251001", summarize.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_task_with_a_latency_target_is_flagged_with_its_measured_p95_and_keeps_its_pin()
    {
        using var folder = new TempFolder();
        var seed = AuditLedger.Seed().Select(r => r.Id switch
        {
            "r1" => r with { LatencyMs = 900 },
            "r2" => r with { LatencyMs = 1500 },
            "r8" => r with { LatencyMs = 300 },
            _ => r,
        }).ToList();

        var (_, recommendations) = await RecommendAsync(folder, seed, Evidence(folder, "summarize", 100, 100), AnyVolume with { LatencyTargetsMs = new Dictionary<string, long> { ["summarize"] = 800 } });

        Assert.Equal([RecommendationKind.CheaperModel, RecommendationKind.DoNotRoute], recommendations.Select(r => r.Kind));
        // p95 of 300, 900, 1,500 ms by nearest rank: the ⌈0.95 × 3⌉ = 3rd, 1,500 ms.
        Assert.Contains("it has a p95 latency target of 800 ms (its first attempts' p95 is 1,500 ms): route it by pins and rules only", recommendations[1].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_audit_says_when_the_proxy_will_not_serve_the_learned_router()
    {
        var router = ModelMix.Routing.LearnedRouterTrainer.Train(
            [ModelMix.Routing.LearnedRouterExample.FromOutcomes("x", null, true, true)], new ModelMix.Routing.LearnedRouterTiers("c", null, "t"),
            new ModelMix.Routing.LearnedRouterTrainingOptions { Features = new ModelMix.Routing.LearnedFeatureSettings(HashBits: 10), Epochs = 1 });

        var unproven = RecommendationEngine.LearnedRouter(router, "router.json")!;

        Assert.Equal(RecommendationKind.LearnedRouterNotServed, unproven.Kind);
        Assert.StartsWith("the proxy will not serve 'auto-learned' from router.json (unless ModelMix:LearnedRouter:Force is true): the router file records no evidence", unproven.Reason, StringComparison.Ordinal);
        router.Evidence = new ModelMix.Routing.LearnedRouterEvidence
        {
            Dataset = "pairs.jsonl", Split = "all", Scores = "out-of-fold", Prompts = 800, InDomain = true, Apgr = 0.6, ApgrLower = 0.56, ApgrUpper = 0.64, Confidence = 0.95, Resamples = 1000,
        };
        Assert.Null(RecommendationEngine.LearnedRouter(router, "router.json"));
    }

    [Fact]
    public void Commit_sizing_starts_from_the_optimized_floor_with_headroom_and_stays_under_the_quietest_week()
    {
        // Four weeks: $700, $500, $600, $650 = $2,450 in 28 days → ×30.4375/28 = $2,663.28125 a month; the
        // recommendations save $663.28125, so the optimized floor is $2,000.
        var forecast = new SpendForecast(AuditLedger.Day1, AuditLedger.Day1.AddDays(28), [700m, 500m, 600m, 650m], 2663.28125m, 663.28125m) { Recommendations = 2 };

        var commit = forecast.Commit();

        Assert.Equal(2000m, commit.FloorMonthlyUsd);
        // The quietest week optimized as a month: 500 × (30.4375 / 7) × (2000 / 2663.28125) = 28,000,000 / 17,150 = 1,632.65…
        Assert.Equal(1632.653m, Math.Round(commit.QuietestWeekMonthlyUsd!.Value, 3));
        Assert.Equal(1600m, commit.CommittedMonthlyUsd); // 2,000 × (1 − 0.2), under 1,632.65
        Assert.Equal(1632m, forecast.Commit(0.1m).CommittedMonthlyUsd); // 1,800 would pass the quietest week: its 1,632.65, rounded down
        Assert.Contains(commit.Assumptions, a => a.StartsWith("the floor is the optimized forecast, not today's bill: $2,663.28 a month", StringComparison.Ordinal) && a.EndsWith("less $663.28 of 2 recommendation(s), = $2,000.00", StringComparison.Ordinal));
        Assert.Contains(commit.Assumptions, a => a.StartsWith("20% headroom below the floor", StringComparison.Ordinal));
        Assert.Contains(commit.Assumptions, a => a.StartsWith("volume stays at the window's level", StringComparison.Ordinal));
        Assert.Throws<ArgumentOutOfRangeException>(() => forecast.Commit(0.95m));
    }

    [Fact]
    public void Commit_sizing_without_a_full_week_says_so()
    {
        var forecast = new SpendForecast(AuditLedger.Day1, AuditLedger.Day1.AddDays(2), [100m], 1521.875m, 0m);

        var commit = forecast.Commit();

        Assert.Null(commit.QuietestWeekMonthlyUsd);
        Assert.Equal(1217m, commit.CommittedMonthlyUsd); // ⌊1,521.875 × 0.8⌋ = ⌊1,217.5⌋
        Assert.Contains(commit.Assumptions, a => a.StartsWith("the window has no full week", StringComparison.Ordinal));
        Assert.Contains(commit.Assumptions, a => a.StartsWith("only 0 full week(s) of history", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Apply_merges_pins_into_a_config_file_and_keeps_everything_else()
    {
        using var folder = new TempFolder();
        var (_, recommendations) = await RecommendAsync(folder, AuditLedger.Seed(), Evidence(folder, "summarize", 100, 100));
        var config = folder.Write("review.json", """{ "ModelMix": { "Upstream": "http://x", "Routing": { "Pins": { "fraud": "opus" }, "Default": "sonnet" } } }""");

        var pins = PinsConfigWriter.Write(config, recommendations);

        Assert.Equal(new Dictionary<string, string> { ["summarize"] = "claude-haiku-4-5-20251001" }, pins);
        using var written = JsonDocument.Parse(File.ReadAllText(config));
        var routing = written.RootElement.GetProperty("ModelMix").GetProperty("Routing");
        Assert.Equal("opus", routing.GetProperty("Pins").GetProperty("fraud").GetString());
        Assert.Equal("claude-haiku-4-5-20251001", routing.GetProperty("Pins").GetProperty("summarize").GetString());
        Assert.Equal("sonnet", routing.GetProperty("Default").GetString());
        Assert.Equal("http://x", written.RootElement.GetProperty("ModelMix").GetProperty("Upstream").GetString());
        // The written file is a routing configuration the proxy accepts.
        var options = ModelMix.Routing.RoutingConfiguration.ParseJson(routing.GetRawText(), config);
        ModelMix.Routing.RoutingConfiguration.CreatePolicy(options, PriceBook.Default);
    }

    [Fact]
    public async Task Forecast_projects_the_window_and_subtracts_the_recommendations()
    {
        using var folder = new TempFolder();
        var (report, recommendations) = await RecommendAsync(folder, AuditLedger.Seed(), Evidence(folder, "summarize", 100, 100));

        var forecast = SpendForecast.Compute(report, recommendations, AuditLedger.Day1, AuditLedger.Day1.AddDays(2));

        Assert.Equal([0.04875m], forecast.WeeklyUsd);
        Assert.Equal(0.04875m * 15.21875m, forecast.MonthlyBeforeUsd);
        Assert.Equal((0.04875m - (0.0135m - 0.0045m)) * 15.21875m, forecast.MonthlyAfterUsd);
    }
}
