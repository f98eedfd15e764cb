using System.Text;
using System.Text.Json;
using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Cli;

namespace ModelMix.Tests.Audit;

/// <summary>
/// The audit's what-ifs (counterfactuals, recommendations, forecast) check each call against the target's catalog facts:
/// a call the target could not have served counts at what it cost as recorded, and is counted and shown. The seed ledger
/// (<see cref="AuditLedger"/>, 4.x tiers: Haiku 4.5 $1/$5 with a 200K context and no inference_geo, Sonnet 4.6 $3/$15,
/// Opus 4.6 $5/$25) plus two Sonnet 4.6 calls of the task "summarize" on day 2 (2026-03-02):
/// r9 a 250,000-token prompt + 1,000 out, over Sonnet 4.6's 200K long-context threshold then ($6 / $22.50):
/// 1.5 + 0.0225 = $1.5225; r10 10,000 in + 1,000 out in inference_geo "us": (0.03 + 0.015) × 1.1 = $0.0495.
/// Neither could have run on Haiku 4.5; both could on Opus 4.6 (1M context, inference_geo accepted).
/// </summary>
public sealed class AuditWhatIfFitTests
{
    private static readonly PriceBook Book = TestPrices.Tiers4x;

    private static IReadOnlyList<LedgerRecord> Records()
    {
        var at = AuditLedger.Day2.AddHours(12);
        var geo = AuditLedger.Record("r10", at.AddMinutes(5), "claude-sonnet-4-6", "summarize", 10_000, 1_000, 0.0495m);
        return
        [
            .. AuditLedger.Seed(),
            AuditLedger.Record("r9", at, "claude-sonnet-4-6", "summarize", 250_000, 1_000, 1.5225m),
            geo with { Usage = geo.Usage with { InferenceGeo = "us" } },
        ];
    }

    private static string Evidence(TempFolder folder)
    {
        var text = new StringBuilder();
        for (var i = 0; i < 100; i++)
        {
            text.Append(JsonSerializer.Serialize(new
            {
                id = $"s{i}", task = "summarize", prompt = "p",
                candidates = new Dictionary<string, object>
                {
                    ["claude-haiku-4-5"] = new { quality = 1.0, cost_usd = 0.001 },
                    ["claude-sonnet-4-6"] = new { quality = 1.0, cost_usd = 0.01 },
                },
            })).Append('\n');
        }

        return folder.Write("evidence.jsonl", text.ToString());
    }

    [Fact]
    public async Task Counterfactuals_recommendations_and_the_forecast_count_calls_the_target_could_not_serve()
    {
        using var folder = new TempFolder();
        var path = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), Records());
        await using var store = new SqliteLedgerStore(path);
        await store.MigrateAsync();
        var report = await AuditRunner.RunAsync(store, Book, new AuditOptions { From = AuditLedger.Day1, To = AuditLedger.Day1.AddDays(2), BaselineModel = "haiku" });

        // Recorded: the seed's 0.04875 + 1.5225 + 0.0495 = $1.62075.
        Assert.Equal(1.62075m, report.TotalUsd);
        // All on Haiku 4.5: the seed's priced calls repriced there (r1 0.002, r2 0.0025, r3 0.0015, r4 0.0025, r5 0.00075,
        // r6 0.0015, r7 0.004 = 0.01475; r8 is unpriced, left out of both sides) plus r9 and r10 as recorded
        // (1.5225 + 0.0495 = 1.572) = $1.58675.
        var baseline = report.Counterfactuals.Single(c => c.Name == "all-on-baseline");
        Assert.Equal(("claude-haiku-4-5-20251001", 1.58675m, 2L, 1.572m), (baseline.Model, baseline.CostUsd, baseline.InfeasibleCalls, baseline.InfeasibleUsd));
        Assert.Equal(1.58675m - 1.62075m, baseline.SavedUsd);
        var top = report.Counterfactuals.Single(c => c.Name == "all-on-top");
        Assert.Equal(0, top.InfeasibleCalls); // Opus 4.6 takes both

        var summarize = report.TaskCosts.Single(t => t.Task == "summarize");
        Assert.Equal(new Dictionary<string, long> { ["claude-haiku-4-5-20251001"] = 2 }, summarize.InfeasibleCalls);
        // summarize on Haiku: r1 0.002 + r2 0.0025 + r9 1.5225 + r10 0.0495 = $1.5765 (r8 is unpriced: left out)
        Assert.Equal(1.5765m, summarize.RepricedUsd["claude-haiku-4-5-20251001"]);

        var options = new RecommendationOptions();
        var evidence = await RecommendationEngine.SummarizeAsync(new RoutingDatasetEvidence(Evidence(folder), new Dictionary<string, string>()), Book, options);
        var recommendation = Assert.Single(RecommendationEngine.Compute(report, evidence, options with { MinMonthlyRequests = 0 }, Book)); // a tiny ledger: no volume hold-back
        Assert.Equal((RecommendationKind.CheaperModel, "claude-haiku-4-5-20251001", 2L), (recommendation.Kind, recommendation.Model, recommendation.InfeasibleCalls));
        // Task now: 0.0135 + 1.5225 + 0.0495 = 1.5855; on Haiku 1.5765; two days → ×15.21875 a month.
        Assert.Equal((1.5855m - 1.5765m) * 15.21875m, recommendation.MonthlySavingUsd);
        Assert.Contains("2 of these calls could not have run on claude-haiku-4-5-20251001", recommendation.Reason, StringComparison.Ordinal);

        var forecast = SpendForecast.Compute(report, [recommendation], AuditLedger.Day1, AuditLedger.Day1.AddDays(2));
        Assert.Equal(2, forecast.InfeasibleCalls);
        Assert.Equal((1.62075m - (1.5855m - 1.5765m)) * 15.21875m, forecast.MonthlyAfterUsd);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_call_that_sent_an_effort_is_infeasible_on_a_model_without_that_effort_from_raw_rows_and_rollups(bool rollups)
    {
        // Three Opus 4.6 calls ($5/$25) of 10,000 in + 1,000 out, 0.05 + 0.025 = $0.075 each, in the same hour: e1 sent
        // effort max, e2 sent none (its recorded high is Opus 4.6's default), e3 sent high (so e2 and e3 share a rollup
        // row that holds one call with a sent effort and one without: it cannot stand for them).
        using var folder = new TempFolder();
        var at = AuditLedger.Day2.AddHours(12);
        var sent = AuditLedger.Record("e1", at, "claude-opus-4-6", "plan", 10_000, 1_000, 0.075m) with { Effort = "max", EffortIsDefault = false };
        var unsent = AuditLedger.Record("e2", at.AddMinutes(1), "claude-opus-4-6", "plan", 10_000, 1_000, 0.075m) with { Effort = "high", EffortIsDefault = true };
        var sentHigh = AuditLedger.Record("e3", at.AddMinutes(2), "claude-opus-4-6", "plan", 10_000, 1_000, 0.075m) with { Effort = "high", EffortIsDefault = false };
        var path = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), [sent, unsent, sentHigh]);
        await using var store = new SqliteLedgerStore(path);
        await store.MigrateAsync();

        var report = await AuditRunner.RunAsync(store, Book, new AuditOptions { From = AuditLedger.Day1, To = AuditLedger.Day1.AddDays(2), BaselineModel = "haiku", UseRollups = rollups });

        // All on Haiku 4.5 ($1/$5): e2 moves, 0.01 + 0.005 = $0.015; e1 and e3 stay as recorded, 2 × $0.075 = $0.15
        // (Haiku 4.5 takes no effort parameter). Total 0.015 + 0.15 = $0.165.
        var baseline = report.Counterfactuals.Single(c => c.Name == "all-on-baseline");
        Assert.Equal((0.165m, 2L, 0.15m), (baseline.CostUsd, baseline.InfeasibleCalls, baseline.InfeasibleUsd));
        Assert.Equal(0, report.Counterfactuals.Single(c => c.Name == "all-on-top").InfeasibleCalls); // Opus 4.6 takes max
    }

    [Fact]
    public async Task The_audit_command_shows_the_calls_the_baseline_could_not_serve()
    {
        using var folder = new TempFolder();
        var path = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), Records());

        var json = (await Cli.Cli.RunAsync("audit", "--db", path, "--from", "2026-03-01", "--to", "2026-03-03", "--prices", TestPrices.Tiers4xFile,
            "--baseline-model", "haiku", "--format", "json")).Json();
        var baseline = json.GetProperty("counterfactuals").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "all-on-baseline");
        Assert.Equal(2, baseline.GetProperty("infeasible_calls").GetInt64());
        Assert.Equal(1.572m, baseline.GetProperty("infeasible_usd").GetDecimal());

        var markdown = await Cli.Cli.RunAsync("audit", "--db", path, "--from", "2026-03-01", "--to", "2026-03-03", "--prices", TestPrices.Tiers4xFile,
            "--baseline-model", "haiku", "--format", "markdown");
        Assert.Contains("2 call(s) could not have run on it, counted as recorded ($1.5720)", markdown.Output, StringComparison.Ordinal);
    }
}
