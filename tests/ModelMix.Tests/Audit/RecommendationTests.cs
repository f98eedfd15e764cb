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

    private static async Task<(AuditReport Report, IReadOnlyList<Recommendation> Recommendations)> RecommendAsync(TempFolder folder, IReadOnlyList<LedgerRecord> records, string? evidencePath)
    {
        var path = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), records);
        var options = new RecommendationOptions();
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, (long, long)>> summary = new Dictionary<string, IReadOnlyDictionary<string, (long, long)>>();
        if (evidencePath is not null)
        {
            summary = await RecommendationEngine.SummarizeAsync(
                new RoutingDatasetEvidence(evidencePath, new Dictionary<string, string> { ["small-model"] = "haiku" }), Book, options);
        }

        await using var store = new SqliteLedgerStore(path);
        await store.MigrateAsync();
        var report = await AuditRunner.RunAsync(store, Book, new AuditOptions { From = AuditLedger.Day1, To = AuditLedger.Day1.AddDays(2) });
        return (report, RecommendationEngine.Compute(report, summary, options));
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

        var options = new RecommendationOptions();
        await using var store = new SqliteLedgerStore(path);
        await store.MigrateAsync();
        var summary = await RecommendationEngine.SummarizeAsync(new ShadowPairEvidence(store), Book, options);
        var report = await AuditRunner.RunAsync(store, Book, new AuditOptions { From = AuditLedger.Day1, To = AuditLedger.Day1.AddDays(2) });
        var recommendations = RecommendationEngine.Compute(report, summary, options);

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
