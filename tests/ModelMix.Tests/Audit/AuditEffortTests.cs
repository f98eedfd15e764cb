using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Tests.Cli;

namespace ModelMix.Tests.Audit;

/// <summary>
/// Spend by (model, effort) and dropped thinking, in the report and in every output format. Prices (4.x tiers, per
/// MTok): Haiku 4.5 $1/$5, Sonnet 4.6 $3/$15, Opus 4.6 $5/$25; each record's cost below is its input + output at those.
/// </summary>
public sealed class AuditEffortTests
{
    private static AuditOptions Options => new()
    {
        From = AuditLedger.Day1,
        To = AuditLedger.Day1.AddDays(1),
    };

    /// <summary>Six calls on one day; three had thinking dropped (2 + 3 + 1 blocks), one of them unpriced.</summary>
    private static IReadOnlyList<LedgerRecord> Seed()
    {
        var at = AuditLedger.Day1.AddHours(9);
        return
        [
            // 1000 × $5/M + 400 × $25/M = 0.005 + 0.01 = 0.015; high sent.
            AuditLedger.Record("e1", at, "claude-opus-4-6", "plan", 1000, 400, 0.015m) with { Effort = "high" },
            // 2000 × $5/M + 200 × $25/M = 0.01 + 0.005 = 0.015; none sent, Opus's default high; 2 blocks dropped.
            AuditLedger.Record("e2", at.AddMinutes(1), "claude-opus-4-6", "plan", 2000, 200, 0.015m) with { Effort = "high", EffortIsDefault = true, ThinkingBlocksDropped = 2 },
            // 1000 × $5/M + 100 × $25/M = 0.005 + 0.0025 = 0.0075; low sent.
            AuditLedger.Record("e3", at.AddMinutes(2), "claude-opus-4-6", "plan", 1000, 100, 0.0075m) with { Effort = "low" },
            // 1000 × $3/M + 100 × $15/M = 0.003 + 0.0015 = 0.0045; default medium; 3 blocks dropped.
            AuditLedger.Record("e4", at.AddMinutes(3), "claude-sonnet-4-6", "chat", 1000, 100, 0.0045m) with { Effort = "medium", EffortIsDefault = true, ThinkingBlocksDropped = 3 },
            // 1000 × $1/M + 100 × $5/M = 0.001 + 0.0005 = 0.0015; no effort recorded (as every record before the ledger kept it).
            AuditLedger.Record("e5", at.AddMinutes(4), "claude-haiku-4-5", "chat", 1000, 100, 0.0015m),
            // Unpriced (cost null), high sent, 1 block dropped: counted, costs nothing.
            AuditLedger.Record("e6", at.AddMinutes(5), "claude-opus-4-6", "plan", 500, 50, null) with { Effort = "high", ThinkingBlocksDropped = 1 },
        ];
    }

    private static async Task<AuditReport> AuditAsync(IReadOnlyList<LedgerRecord> records)
    {
        using var folder = new TempFolder();
        var path = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), records);
        await using var store = new SqliteLedgerStore(path);
        await store.MigrateAsync();
        return await AuditRunner.RunAsync(store, TestPrices.Tiers4x, Options);
    }

    [Fact]
    public async Task Spend_is_split_by_model_and_effort_with_the_share_at_the_default_effort()
    {
        var report = await AuditAsync(Seed());

        // opus/high: e1, e2, e6 → 3 calls; prompt 1000 + 2000 + 500 = 3500; output 400 + 200 + 50 = 650;
        //   cost 0.015 + 0.015 + 0 = 0.03; 1 unpriced (e6); 1 at the default (e2) → 1/3.
        // opus/low: e3 → 1 call, 1000 / 100, 0.0075, none at the default.
        // sonnet/medium: e4 → 1 call, 1000 / 100, 0.0045, at the default → 1.
        // haiku (canonical id)/(none): e5 → 1 call, 1000 / 100, 0.0015, 0.
        // Dearest first: 0.03 > 0.0075 > 0.0045 > 0.0015.
        Assert.Equal(
            [
                new AuditEffortBucket("claude-opus-4-6", "high", 3, 3500, 650, 0.03m, 1, 1, 1m / 3m),
                new AuditEffortBucket("claude-opus-4-6", "low", 1, 1000, 100, 0.0075m, 0, 0, 0m),
                new AuditEffortBucket("claude-sonnet-4-6", "medium", 1, 1000, 100, 0.0045m, 0, 1, 1m),
                new AuditEffortBucket("claude-haiku-4-5-20251001", "(none)", 1, 1000, 100, 0.0015m, 0, 0, 0m),
            ],
            report.ByModelAndEffort);

        // The groups add up to the report: 3 + 1 + 1 + 1 = 6 calls; 0.03 + 0.0075 + 0.0045 + 0.0015 = 0.0435.
        Assert.Equal(report.Calls, report.ByModelAndEffort.Sum(b => b.Calls));
        Assert.Equal(0.0435m, report.TotalUsd);
        Assert.Equal(report.TotalUsd, report.ByModelAndEffort.Sum(b => b.CostUsd));
    }

    [Fact]
    public async Task Dropped_thinking_is_totalled_and_flagged()
    {
        var report = await AuditAsync(Seed());

        // Blocks 2 (e2) + 3 (e4) + 1 (e6) = 6 in 3 calls; their cost 0.015 + 0.0045 + 0 (e6 unpriced) = 0.0195.
        Assert.Equal(new AuditDroppedThinking(6, 3, 0.0195m), report.DroppedThinking);
        var flag = Assert.Single(report.Flags, f => f.Kind == AuditFlagKind.DroppedThinking);
        Assert.Equal("thinking", flag.Subject);
        Assert.Contains("dropped 6 thinking block(s) from the prompts of 3 call(s) costing $0.0195", flag.Message, StringComparison.Ordinal);
        Assert.Contains("money spent twice", flag.Message, StringComparison.Ordinal);
        Assert.Same(flag, report.Flags[^1]); // dropped thinking comes after the other flags
    }

    [Fact]
    public async Task Without_dropped_thinking_there_is_no_flag_and_the_totals_are_zero()
    {
        var report = await AuditAsync(Seed().Select(r => r with { ThinkingBlocksDropped = 0 }).ToList());

        Assert.Equal(AuditDroppedThinking.None, report.DroppedThinking);
        Assert.DoesNotContain(report.Flags, f => f.Kind == AuditFlagKind.DroppedThinking);
    }

    [Fact]
    public async Task Json_markdown_and_table_show_both_sections()
    {
        using var folder = new TempFolder();
        var db = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), Seed());
        string[] range = ["--from", "2026-03-01", "--to", "2026-03-02", "--prices", TestPrices.Tiers4xFile];

        var json = (await Cli.Cli.RunAsync(["audit", "--db", db, "--format", "json", .. range])).Json();
        var first = json.GetProperty("by_model_and_effort")[0];
        Assert.Equal(("claude-opus-4-6", "high"), (first.GetProperty("model").GetString(), first.GetProperty("effort").GetString()));
        Assert.Equal((3L, 3500L, 650L, 1L, 1L), (first.GetProperty("calls").GetInt64(), first.GetProperty("prompt_tokens").GetInt64(),
            first.GetProperty("output_tokens").GetInt64(), first.GetProperty("unpriced_calls").GetInt64(), first.GetProperty("default_effort_calls").GetInt64()));
        Assert.Equal(0.03m, first.GetProperty("cost_usd").GetDecimal());
        Assert.Equal(1m / 3m, first.GetProperty("default_effort_share").GetDecimal());
        Assert.Equal(4, json.GetProperty("by_model_and_effort").GetArrayLength());
        var dropped = json.GetProperty("dropped_thinking");
        Assert.Equal((6L, 3L, 0.0195m), (dropped.GetProperty("blocks_dropped").GetInt64(), dropped.GetProperty("calls").GetInt64(), dropped.GetProperty("cost_usd").GetDecimal()));
        Assert.Contains(json.GetProperty("flags").EnumerateArray(), f => f.GetProperty("kind").GetString() == "dropped-thinking");

        var markdown = await Cli.Cli.RunAsync(["audit", "--db", db, "--format", "markdown", .. range]);
        Assert.Equal(0, markdown.ExitCode);
        Assert.Contains("## Spend by model and effort", markdown.Output, StringComparison.Ordinal);
        Assert.Contains("| claude-opus-4-6 | high | 3 | 3,500 | 650 | $0.03 | 33.3% |", markdown.Output, StringComparison.Ordinal);
        Assert.Contains("| claude-haiku-4-5-20251001 | (none) | 1 | 1,000 | 100 | $0.0015 | 0.0% |", markdown.Output, StringComparison.Ordinal);
        Assert.Contains("| dropped thinking: blocks / calls / their cost | 6 / 3 / $0.0195 |", markdown.Output, StringComparison.Ordinal);
        Assert.Contains("| dropped-thinking | thinking |", markdown.Output, StringComparison.Ordinal);

        var table = await Cli.Cli.RunAsync(["audit", "--db", db, .. range]);
        Assert.Equal(0, table.ExitCode);
        Assert.Contains("Spend by model and effort", table.Output, StringComparison.Ordinal);
        Assert.Contains("dropped-thinking", table.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_dropped_thinking_json_reports_zeros_and_markdown_shows_no_line()
    {
        using var folder = new TempFolder();
        var db = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), AuditLedger.Seed());

        var json = (await Cli.Cli.RunAsync("audit", "--db", db, "--format", "json", "--prices", TestPrices.Tiers4xFile)).Json();
        var dropped = json.GetProperty("dropped_thinking");
        Assert.Equal((0L, 0L, 0m), (dropped.GetProperty("blocks_dropped").GetInt64(), dropped.GetProperty("calls").GetInt64(), dropped.GetProperty("cost_usd").GetDecimal()));
        // The seed ledger records no effort: every group is (none), none at a default.
        Assert.All(json.GetProperty("by_model_and_effort").EnumerateArray(), b => Assert.Equal("(none)", b.GetProperty("effort").GetString()));

        var markdown = await Cli.Cli.RunAsync("audit", "--db", db, "--format", "markdown", "--prices", TestPrices.Tiers4xFile);
        Assert.DoesNotContain("dropped thinking", markdown.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("dropped-thinking", markdown.Output, StringComparison.Ordinal);
    }
}
