using ModelMix.Tests.Cli;

namespace ModelMix.Tests.Audit;

public sealed class AuditCommandTests
{
    [Fact]
    public async Task Json_output_carries_the_exact_totals_and_flags()
    {
        using var folder = new TempFolder();
        var db = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), AuditLedger.Seed());

        // The all-on-top figure is worked out on the 4.x opus tier (Opus 4.6 $5/$25), stated with --prices.
        var json = (await Cli.Cli.RunAsync("audit", "--store", db, "--from", "2026-03-01", "--to", "2026-03-03", "--format", "json", "--prices", TestPrices.Tiers4xFile)).Json();

        Assert.Equal(0.04875m, json.GetProperty("total_usd").GetDecimal());
        Assert.Equal("claude-opus-4-6", json.GetProperty("by_model")[0].GetProperty("name").GetString());
        Assert.Equal(0.0275m, json.GetProperty("by_model")[0].GetProperty("cost_usd").GetDecimal());
        // All on Opus 4.6 ($5 / $25 per MTok; reads $0.50, batch half), the seven priced calls r1–r7 (AuditReportTests
        // works each one): 0.01 + 0.0125 + 0.0075 + 0.0125 + 0.00375 + 0.0075 + 0.02 = 0.07375, against their recorded
        // 0.04875: saved 0.025. The unpriced r8 (50 prompt, 5 output tokens) is in neither, and reported on its own.
        var top = json.GetProperty("counterfactuals")[0];
        Assert.Equal((0.07375m, 0.04875m, 0.025m), (top.GetProperty("cost_usd").GetDecimal(), top.GetProperty("actual_usd").GetDecimal(), top.GetProperty("saved_usd").GetDecimal()));
        Assert.Equal((1, 50, 5), (json.GetProperty("unpriced_calls").GetInt64(), json.GetProperty("unpriced_prompt_tokens").GetInt64(), json.GetProperty("unpriced_output_tokens").GetInt64()));
        Assert.Equal("tier-share", json.GetProperty("flags")[0].GetProperty("kind").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, json.GetProperty("recommendations").ValueKind);
    }

    [Fact]
    public async Task Table_and_markdown_show_the_sections_and_the_chart_is_an_svg_of_each_days_spend_by_model()
    {
        using var folder = new TempFolder();
        var db = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), AuditLedger.Seed());
        var chart = Path.Combine(folder.Path, "spend.svg");

        var table = await Cli.Cli.RunAsync("audit", "--db", db, "--chart", chart);
        var markdown = await Cli.Cli.RunAsync("audit", "--db", db, "--format", "markdown");

        Assert.Equal(0, table.ExitCode);
        Assert.Contains("Spend by model", table.Output, StringComparison.Ordinal);
        Assert.Contains("$0.0275", table.Output, StringComparison.Ordinal);
        Assert.Contains("## Model mix", markdown.Output, StringComparison.Ordinal);
        Assert.Contains("| claude-opus-4-6 | 2 | $0.0275 |", markdown.Output, StringComparison.Ordinal);

        // One bar segment per day and model with spend, carrying its exact amount; they add up to the report's total.
        var svg = System.Xml.Linq.XDocument.Load(chart);
        System.Xml.Linq.XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", svg.Root!.Name);
        var bars = svg.Descendants(ns + "rect").Where(rect => rect.Attribute("data-usd") is not null).ToList();
        Assert.NotEmpty(bars);
        var json = (await Cli.Cli.RunAsync("audit", "--db", db, "--format", "json")).Json();
        Assert.Equal(json.GetProperty("total_usd").GetDecimal(), bars.Sum(bar => decimal.Parse(bar.Attribute("data-usd")!.Value, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(bars.Count, bars.Select(bar => (bar.Attribute("data-day")!.Value, bar.Attribute("data-model")!.Value)).Distinct().Count());
    }

    [Fact]
    public async Task The_chart_refuses_a_file_that_is_not_svg()
    {
        using var folder = new TempFolder();
        var db = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), AuditLedger.Seed());

        var result = await Cli.Cli.RunAsync("audit", "--db", db, "--chart", Path.Combine(folder.Path, "spend.png"));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--chart writes an SVG image", result.Output + result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(folder.Path, "spend.png")));
    }

    [Fact]
    public async Task Recommend_with_evidence_and_apply_writes_the_pins_file()
    {
        using var folder = new TempFolder();
        var db = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), AuditLedger.Seed());
        var lines = string.Concat(Enumerable.Range(0, 100).Select(i => """{"task":"summarize","candidates":{"claude-instant-v1":{"quality":1},"claude-sonnet-4-6":{"quality":1}}}""" + "\n"));
        var evidence = folder.Write("evidence.jsonl", lines);
        var pins = Path.Combine(folder.Path, "pins.json");

        // The saving is worked out on the 4.x haiku tier (Haiku 4.5 $1/$5), stated with --prices.
        var result = await Cli.Cli.RunAsync("audit", "--db", db, "--from", "2026-03-01", "--to", "2026-03-03", "--recommend", "--evidence", evidence,
            "--map", "claude-instant-v1=haiku", "--apply", pins, "--format", "json", "--prices", TestPrices.Tiers4xFile,
            "--min-monthly-requests", "0", "--low-volume-usd", "0");

        var recommendation = result.Json().GetProperty("recommendations")[0];
        Assert.Equal("cheaper-model", recommendation.GetProperty("kind").GetString());
        // summarize's priced calls r1, r2: recorded 0.006 + 0.0075 = 0.0135; on Haiku 0.001 + 0.001 + 0.002 + 0.0005 = 0.0045
        // (r8 is unpriced: in neither); two days → × 30.4375 / 2 = 15.21875.
        Assert.Equal((0.0135m - 0.0045m) * 15.21875m, recommendation.GetProperty("monthly_saving_usd").GetDecimal());
        Assert.Contains("\"summarize\": \"claude-haiku-4-5-20251001\"", await File.ReadAllTextAsync(pins), StringComparison.Ordinal);
        Assert.Contains("wrote 1 pin(s)", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forecast_uses_the_last_weeks_before_to()
    {
        using var folder = new TempFolder();
        var db = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), AuditLedger.Seed());

        var json = (await Cli.Cli.RunAsync("audit", "--db", db, "--forecast", "--weeks", "1", "--to", "2026-03-08", "--format", "json")).Json();

        var forecast = json.GetProperty("forecast");
        Assert.Equal(0.04875m * 30.4375m / 7m, forecast.GetProperty("monthly_before_usd").GetDecimal());
        Assert.Equal(forecast.GetProperty("monthly_before_usd").GetDecimal(), forecast.GetProperty("monthly_after_usd").GetDecimal());
    }

    /// <summary>What a caller can put in a task label, a session id or a model name, all of which the audit prints.</summary>
    private const string Hostile = "x\u001b]0;pwned\u0007\u001b[31mred\u009b2J\u202Eevil<img src=x onerror=alert(1)>[click](javascript:alert(1))`c`|";

    [Fact]
    public async Task Caller_text_reaches_the_terminal_without_escape_sequences_and_markdown_without_html()
    {
        using var folder = new TempFolder();
        // A hostile task label, session id and model name (an unpriced model: its name is printed as sent).
        var db = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"),
        [
            AuditLedger.Record("h1", AuditLedger.Day1.AddHours(9), "claude-opus-4-6", Hostile, 1000, 100, 5m, session: Hostile),
            AuditLedger.Record("h2", AuditLedger.Day1.AddHours(9).AddMinutes(1), Hostile, Hostile, 10, 1, null, session: Hostile),
        ]);

        foreach (var format in new[] { "table", "markdown", "json" })
        {
            var result = await Cli.Cli.RunAsync("audit", "--db", db, "--format", format, "--runaway-min-usd", "0", "--runaway-usd-per-minute", "0");

            Assert.Equal(0, result.ExitCode);
            // No control character but line ends in any format (JSON escapes them, as \u001B: the data stays exact); no
            // bidirectional override in the formats meant for reading (JSON keeps it, as data).
            var unsafeChars = result.Output.Where(c => (char.IsControl(c) && c is not ('\n' or '\r')) || (format != "json" && c is '\u202E')).ToList();
            Assert.True(unsafeChars.Count == 0, $"{format}: {string.Join(", ", unsafeChars.Select(c => $"U+{(int)c:X4}"))}");
        }

        // The table shows the escapes, visibly, where the label was (the task, the model and the flags name them).
        var table = (await Cli.Cli.RunAsync("audit", "--db", db)).Output;
        Assert.Contains(@"x\x1B]0;pwned\x07\x1B[31mred\x9B2J\u202Eevil", table, StringComparison.Ordinal);

        // Markdown: HTML as text, no link, no code span, no extra cell; escapes visible as in the table.
        var markdown = (await Cli.Cli.RunAsync("audit", "--db", db, "--format", "markdown")).Output;
        Assert.DoesNotContain("<img", markdown, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"(?<!\\)\]\(", markdown); // a ] not backslash-escaped before ( would close a link
        Assert.Contains(@"x\\x1B\]0;pwned\\x07\\x1B\[31mred\\x9B2J\\u202Eevil&lt;img src=x onerror=alert(1)&gt;\[click\](javascript:alert(1))\`c\`\|", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forecast_commit_proposes_a_commitment_from_the_optimized_floor()
    {
        using var folder = new TempFolder();
        var db = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), AuditLedger.Seed());

        var result = await Cli.Cli.RunAsync("audit", "--db", db, "--forecast", "--commit", "--commit-headroom", "0.5", "--weeks", "1", "--to", "2026-03-08", "--format", "json");

        var commit = result.Json().GetProperty("forecast").GetProperty("commit");
        // One full week of $0.04875 → $0.04875 × 30.4375 / 7 a month, nothing to save: ⌊0.21 × 0.5⌋ = $0.
        Assert.Equal(0.04875m * 30.4375m / 7m, commit.GetProperty("floor_monthly_usd").GetDecimal());
        Assert.Equal(0.5m, commit.GetProperty("headroom").GetDecimal());
        Assert.Equal(0m, commit.GetProperty("committed_monthly_usd").GetDecimal());
        Assert.Contains(commit.GetProperty("assumptions").EnumerateArray(), a => a.GetString()!.StartsWith("the floor is the optimized forecast", StringComparison.Ordinal));
        var table = await Cli.Cli.RunAsync("audit", "--db", db, "--forecast", "--commit", "--weeks", "1", "--to", "2026-03-08", "--format", "markdown");
        Assert.Contains("## Commit sizing", table.Output, StringComparison.Ordinal);
        Assert.Contains("| proposed committed monthly spend |", table.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Recommend_with_a_router_says_the_proxy_will_not_serve_it_without_in_domain_evidence()
    {
        using var folder = new TempFolder();
        var db = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), AuditLedger.Seed());
        var router = Path.Combine(folder.Path, "router.json");
        ModelMix.Routing.LearnedRouterTrainer.Train(
            [ModelMix.Routing.LearnedRouterExample.FromOutcomes("x", null, true, true)], new ModelMix.Routing.LearnedRouterTiers("c", null, "t"),
            new ModelMix.Routing.LearnedRouterTrainingOptions { Features = new ModelMix.Routing.LearnedFeatureSettings(HashBits: 10), Epochs = 1 }).Save(router);

        var result = await Cli.Cli.RunAsync("audit", "--db", db, "--from", "2026-03-01", "--to", "2026-03-03", "--recommend", "--router", router, "--format", "json");

        var first = result.Json().GetProperty("recommendations")[0];
        Assert.Equal("learned-router-not-served", first.GetProperty("kind").GetString());
        Assert.Contains("records no evidence", first.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_ledger_or_bad_bound_is_a_one_line_error()
    {
        var missing = await Cli.Cli.RunAsync("audit", "--db", "/nonexistent/ledger.db");
        Assert.Equal(1, missing.ExitCode);
        Assert.StartsWith("modelmix audit: the ledger", missing.Error, StringComparison.Ordinal);

        using var folder = new TempFolder();
        var db = await AuditLedger.WriteAsync(Path.Combine(folder.Path, "ledger.db"), AuditLedger.Seed());
        var bad = await Cli.Cli.RunAsync("audit", "--db", db, "--tier-bound", "opus=lots");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("--tier-bound 'opus=lots'", bad.Error, StringComparison.Ordinal);
    }
}
