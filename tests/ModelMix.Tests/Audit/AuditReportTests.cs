using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Cli;

namespace ModelMix.Tests.Audit;

public sealed class AuditReportTests
{
    private static AuditOptions Options => new()
    {
        From = AuditLedger.Day1,
        To = AuditLedger.Day1.AddDays(2),
        LowVolumeMonthlyUsd = 0.25m,
        RunawayMinSessionUsd = 0.015m,
        RunawayUsdPerMinute = 0.01m,
    };

    private static async Task<AuditReport> AuditAsync(IReadOnlyList<LedgerRecord> records, AuditOptions options)
    {
        using var folder = new TempFolder();
        var path = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), records);
        await using var store = new SqliteLedgerStore(path);
        await store.MigrateAsync();
        // The figures are worked out at the 4.x tier prices (AuditLedger), so the tiers (top = opus) are stated explicitly.
        return await AuditRunner.RunAsync(store, TestPrices.Tiers4x, options);
    }

    [Fact]
    public async Task Spend_is_split_by_model_task_key_and_day_exactly()
    {
        var report = await AuditAsync(AuditLedger.Seed(), Options);

        Assert.Equal(8, report.Calls);
        Assert.Equal(1, report.UnpricedCalls);
        Assert.Equal(0.04875m, report.TotalUsd);
        Assert.Equal(30.4375m / 2m, report.MonthlyFactor);
        Assert.Equal(
            [("claude-opus-4-6", 2L, 0.0275m), ("claude-sonnet-4-6", 3L, 0.018m), ("claude-haiku-4-5-20251001", 2L, 0.00325m), ("mystery-model", 1L, 0m)],
            report.ByModel.Select(b => (b.Name, b.Calls, b.CostUsd)));
        Assert.Equal(
            [("fraud", 1L, 0.02m), ("classify", 4L, 0.01525m), ("summarize", 3L, 0.0135m)],
            report.ByTask.Select(b => (b.Name, b.Calls, b.CostUsd)));
        Assert.Equal(
            [("k1", 3L, 0.0335m), ("k2", 4L, 0.01525m), ("(none)", 1L, 0m)],
            report.ByKey.Select(b => (b.Name, b.Calls, b.CostUsd)));
        Assert.Equal([("2026-03-01", 3L, 0.021m), ("2026-03-02", 5L, 0.02775m)], report.ByDay.Select(b => (b.Name, b.Calls, b.CostUsd)));
        Assert.Equal(0.0045m, report.ByDayAndModel["2026-03-02"]["claude-sonnet-4-6"]);
    }

    [Fact]
    public async Task Sessions_mix_cache_batch_escalations_and_counterfactuals_match_hand_computed_figures()
    {
        var report = await AuditAsync(AuditLedger.Seed(), Options);

        Assert.Equal(AuditLedger.Day2.AddHours(9), report.RoutingStart);
        Assert.Equal(new AuditSessionStats(4, 0.0121875m, 0.00775m, 0.02m, 0.04875m), report.Sessions);
        Assert.Equal(new AuditSessionStats(2, 0.0105m, 0.0075m, 0.0135m, 0.021m), report.SessionsBeforeRouting);
        Assert.Equal(new AuditSessionStats(2, 0.013875m, 0.00775m, 0.02m, 0.02775m), report.SessionsAfterRouting);

        var opus = report.Tiers.Single(t => t.Tier == "opus");
        Assert.Equal((2L, 0.25m, 0.0275m), (opus.Calls, opus.CallShare, opus.CostUsd));
        Assert.Equal(0.0275m / 0.04875m, opus.CostShare);
        Assert.Equal(1, report.Tiers.Single(t => t.Tier == "other").Calls);

        Assert.Equal(new AuditCacheStats(19050, 10000, 0, 10000m / 19050m, 1, 0.125m, 0.009m, 0m, 0.009m), report.Cache);
        Assert.Equal(new AuditBatchStats(1, 0.125m, 0.00075m, 0.00075m), report.Batch);
        Assert.Equal(new AuditEscalationStats(7, 1, 1m / 7m, 1, 0.0045m, 0, 0m, 0, 0m), report.Escalations);

        Assert.Equal(
            [new AuditCounterfactual("all-on-top", "claude-opus-4-6", 0.074125m, 0.04875m, 0.025375m),
             new AuditCounterfactual("all-on-baseline", "claude-sonnet-4-6", 0.044475m, 0.04875m, -0.004275m)],
            report.Counterfactuals);
    }

    [Fact]
    public async Task A_meta_routed_request_counts_once_and_its_classifier_call_is_a_routing_call()
    {
        // The meta-router's classification (attempt 0) and the routed answer (attempt 1) share one request id.
        IReadOnlyList<LedgerRecord> records =
        [
            AuditLedger.Record("c1", AuditLedger.Day1.AddHours(9), "claude-haiku-4-5", "plan", 1000, 10, 0.00105m, policy: "meta", attempt: LedgerRecord.RoutingCallAttempt, request: "q1"),
            AuditLedger.Record("a1", AuditLedger.Day1.AddHours(9).AddSeconds(1), "claude-opus-4-6", "plan", 1000, 100, 0.0075m, policy: "meta", request: "q1"),
        ];

        var report = await AuditAsync(records, Options);

        Assert.Equal(2, report.Calls);
        Assert.Equal(0.00855m, report.TotalUsd);
        Assert.Equal(new AuditEscalationStats(1, 0, 0m, 0, 0m, 0, 0m, 1, 0.00105m), report.Escalations);
        var task = Assert.Single(report.ByTask);
        Assert.Equal(("plan", 2L, 0.00855m), (task.Name, task.Calls, task.CostUsd));
        // All on Opus, nobody classifies: only the answer is repriced, so routing here cost the classifier's $0.00105.
        var top = report.Counterfactuals.Single(c => c.Name == "all-on-top");
        Assert.Equal((0.0075m, 0.00855m, -0.00105m), (top.CostUsd, top.ActualUsd, top.SavedUsd));
    }

    [Fact]
    public async Task Flags_name_the_tier_past_its_bound_low_volume_tasks_and_runaway_sessions()
    {
        var report = await AuditAsync(AuditLedger.Seed(), Options);

        Assert.Equal(
            [(AuditFlagKind.TierShare, "opus"), (AuditFlagKind.LowVolumeTask, "classify"), (AuditFlagKind.LowVolumeTask, "summarize"), (AuditFlagKind.RunawaySession, "s4"), (AuditFlagKind.UnpricedModel, "mystery-model")],
            report.Flags.Select(f => (f.Kind, f.Subject)));
        Assert.Contains("25% of calls (2 of 8), past its bound of 20%", report.Flags[0].Message, StringComparison.Ordinal);

        var relaxed = await AuditAsync(AuditLedger.Seed(), Options with
        {
            TierCallShareBounds = new Dictionary<string, decimal> { ["opus"] = 0.25m },
            LowVolumeMonthlyUsd = 0.2m,
            RunawayUsdPerMinute = 0.021m,
        });
        // Relaxed bounds silence the judgement calls; the unpriced model stays flagged (a fact, not a bound).
        Assert.Equal([(AuditFlagKind.UnpricedModel, "mystery-model")], relaxed.Flags.Select(f => (f.Kind, f.Subject)));
        Assert.Contains("add its price (ModelMix:Prices or --prices FILE)", relaxed.Flags[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_given_routing_start_and_baseline_override_the_detected_ones()
    {
        var report = await AuditAsync(AuditLedger.Seed(), Options with { RoutingStart = AuditLedger.Day1.AddHours(10).AddSeconds(30), BaselineModel = "haiku" });

        Assert.Equal(AuditLedger.Day1.AddHours(10).AddSeconds(30), report.RoutingStart);
        Assert.Equal(1, report.SessionsBeforeRouting!.Sessions); // only s1 started before
        var baseline = report.Counterfactuals.Single(c => c.Name == "all-on-baseline");
        Assert.Equal("claude-haiku-4-5-20251001", baseline.Model);
    }

    [Fact]
    public async Task A_ledger_with_nothing_routed_has_no_baseline_bill_and_no_before_after()
    {
        var records = AuditLedger.Seed().Take(3).ToList();
        var report = await AuditAsync(records, Options);

        Assert.Null(report.RoutingStart);
        Assert.Null(report.SessionsBeforeRouting);
        Assert.Single(report.Counterfactuals);
        Assert.Equal(0.021m, report.TotalUsd);
    }

    [Fact]
    public async Task Recent_records_come_newest_first()
    {
        var report = await AuditAsync(AuditLedger.Seed(), Options with { RecentCount = 3 });

        Assert.Equal(["req-r8", "req-r7", "q5"], report.Recent.Select(r => r.RequestId));
        Assert.Null(report.Recent[0].CostUsd);
        Assert.Equal("claude-haiku-4-5", report.Recent[2].EscalatedFrom);
    }
}
