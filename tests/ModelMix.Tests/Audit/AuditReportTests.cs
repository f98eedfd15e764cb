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

        // Each bill reprices the same calls the actual 0.04875 covers: the priced r1–r7 (no routing calls here). Per MTok:
        // Opus 4.6 $5 in / $25 out / $0.50 cache read; Sonnet 4.6 $3 / $15 / $0.30; the batch tier halves both.
        //                               all on Opus                          all on Sonnet (the baseline)
        //   r1 1000 in, 200 out         0.005 + 0.005           = 0.01       0.003 + 0.003            = 0.006
        //   r2 2000 in, 100 out         0.01 + 0.0025           = 0.0125     0.006 + 0.0015           = 0.0075
        //   r3 1000 in, 100 out         0.005 + 0.0025          = 0.0075     0.003 + 0.0015           = 0.0045
        //   r4 as r3 + 10000 read       0.0075 + 0.005          = 0.0125     0.0045 + 0.003           = 0.0075
        //   r5 batch 1000 / 100         0.0075 / 2              = 0.00375    0.0045 / 2               = 0.00225
        //   r6 1000 / 100               0.005 + 0.0025          = 0.0075     0.003 + 0.0015           = 0.0045
        //   r7 2000 / 400               0.01 + 0.01             = 0.02       0.006 + 0.006            = 0.012
        //   total                                                 0.07375                               0.04425
        // Saved: 0.07375 − 0.04875 = 0.025; 0.04425 − 0.04875 = −0.0045 (the routed mix cost more than all on Sonnet).
        // r8 (mystery-model, 50 in, 5 out, no price) is in neither the bills nor the actual: it would have added
        // 0.000375 on Opus to the bill alone, and is reported apart instead.
        Assert.Equal(
            [new AuditCounterfactual("all-on-top", "claude-opus-4-6", 0.07375m, 0.04875m, 0.025m),
             new AuditCounterfactual("all-on-baseline", "claude-sonnet-4-6", 0.04425m, 0.04875m, -0.0045m)],
            report.Counterfactuals);
        Assert.Equal((1L, 50L, 5L), (report.UnpricedCalls, report.UnpricedPromptTokens, report.UnpricedOutputTokens));
    }

    [Fact]
    public async Task Unpriced_calls_are_left_out_of_bills_savings_and_task_repricing_alike()
    {
        // One priced Sonnet call and one call of the same task recorded without a cost (say, before its price was in the
        // catalog; the catalog prices it now), with cache reads and on the batch tier: every repriced figure would move
        // if the unpriced call were counted.
        IReadOnlyList<LedgerRecord> records =
        [
            AuditLedger.Record("p1", AuditLedger.Day1.AddHours(9), "claude-sonnet-4-6", "t", 1000, 100, 0.0045m),
            AuditLedger.Record("u1", AuditLedger.Day1.AddHours(10), "claude-haiku-4-5", "t", 2000, 300, null, cacheRead: 4000, tier: ServiceTier.Batch),
        ];

        var report = await AuditAsync(records, Options);

        Assert.Equal((2L, 1L, 0.0045m), (report.Calls, report.UnpricedCalls, report.TotalUsd));
        // u1's prompt: 2000 input + 4000 cache read = 6000 tokens; output 300.
        Assert.Equal((6000L, 300L), (report.UnpricedPromptTokens, report.UnpricedOutputTokens));
        // p1 on Opus 4.6: 1000 × 5 / 1e6 + 100 × 25 / 1e6 = 0.005 + 0.0025 = 0.0075; saved 0.0075 − 0.0045 = 0.003.
        var top = report.Counterfactuals.Single(c => c.Name == "all-on-top");
        Assert.Equal((0.0075m, 0.0045m, 0.003m), (top.CostUsd, top.ActualUsd, top.SavedUsd));
        // The task's repricing covers p1 only, as its cost does: on Haiku 4.5 1000 × 1 / 1e6 + 100 × 5 / 1e6 = 0.0015.
        var task = report.TaskCosts.Single(t => t.Task == "t");
        Assert.Equal(0.0045m, task.CostUsd);
        Assert.Equal(0.0015m, task.RepricedUsd["claude-haiku-4-5-20251001"]);
        Assert.Equal(0.0015m, Assert.Single(task.Paths, path => path.Model == "claude-sonnet-4-6").FirstAttemptRepricedUsd["claude-haiku-4-5-20251001"]);
        // Nothing of u1 shows as a caching or batch saving either: there is no recorded cost to compare them with.
        Assert.Equal((0m, 0m), (report.Cache.ReadSavingsUsd, report.Batch.SavingsUsd));
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
