using System.Text.Json;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Ledger;

namespace ModelMix.Tests.Cli;

/// <summary>
/// <c>modelmix savings</c> end to end on a real SQLite ledger. Prices at 2026-03-20 (USD per MTok): Sonnet 4.5 and 4.6
/// $3/$15, Haiku 4.5 $1/$5, Opus 4.6 $5/$25; cache read ×0.1; batch ×0.5. The tiers (haiku, sonnet, opus) are the
/// 4.x models these figures were worked out on, stated with <c>--prices</c> <see cref="TestPrices.Tiers4xFile"/>.
/// </summary>
public sealed class SavingsCommandTests : IDisposable
{
    private const string Haiku = "claude-haiku-4-5-20251001";
    private const string Sonnet45 = "claude-sonnet-4-5-20250929";
    private static readonly DateTimeOffset Day = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);
    private readonly TempDatabase _db = new();
    private readonly TempFolder _folder = new();

    public void Dispose()
    {
        _db.Dispose();
        _folder.Dispose();
    }

    private static LedgerRecord Record(int minute, string routed, TokenUsage usage, decimal? cost, string? responseModel = null, LedgerStatus status = LedgerStatus.Ok) => new()
    {
        Id = LedgerIds.New(Day.AddMinutes(minute)),
        Timestamp = Day.AddMinutes(minute),
        RequestId = $"req-{minute}",
        RequestedModel = routed,
        RoutedModel = routed,
        ResponseModel = responseModel,
        Usage = usage,
        Cost = cost is { } total ? new CostBreakdown(total, 0m, 0m, 0m, 0m) : null,
        Status = status,
        HttpStatus = status == LedgerStatus.Error ? 529 : 200,
        ErrorType = status == LedgerStatus.Error ? "overloaded_error" : null,
    };

    /// <summary>
    /// r1 Sonnet 4.5: 100,000 in + 10,000 out = 0.30 + 0.15 = $0.45 (recorded $0.45)
    /// r2 Haiku batch: (0.10 + 0.05) / 2 = $0.075 (recorded $0.075)
    /// r3 Sonnet 4.6 cache read: 1,000 in 0.003 + 100,000 read 0.03 + 2,000 out 0.03 = $0.063 (recorded $0.063)
    /// r4 Opus 4.6, unknown response snapshot, cost not recorded: 10,000 in 0.05 + 1,000 out 0.025 = $0.075
    /// r5 an overloaded error with no tokens: skipped.
    /// As used at 2026-03-20: 0.45 + 0.075 + 0.063 + 0.075 = $0.663; recorded 0.588 over 3 of 4 calls.
    /// </summary>
    private async Task WriteLedgerAsync()
    {
        await using var ledger = await BufferedLedger.OpenSqliteAsync(_db.FilePath);
        await ledger.RecordAsync(Record(0, "claude-sonnet-4-5", new TokenUsage(100_000, 10_000), 0.45m, responseModel: Sonnet45));
        await ledger.RecordAsync(Record(1, "claude-haiku-4-5", new TokenUsage(100_000, 10_000, ServiceTier: ServiceTier.Batch), 0.075m));
        await ledger.RecordAsync(Record(2, "claude-sonnet-4-6", new TokenUsage(1_000, 2_000, CacheReadTokens: 100_000), 0.063m));
        await ledger.RecordAsync(Record(3, "claude-opus-4-6", new TokenUsage(10_000, 1_000), null, responseModel: "claude-opus-4-6-20990101", status: LedgerStatus.Unpriced));
        await ledger.RecordAsync(Record(4, "claude-opus-4-6", default, 0m, status: LedgerStatus.Error));
    }

    private Task<CliResult> SavingsAsync(params string[] more) =>
        Cli.RunAsync(["savings", "--db", _db.FilePath, "--price-date", "2026-03-20", "--prices", TestPrices.Tiers4xFile, .. more]);

    private static decimal Dec(JsonElement element, string name) => element.GetProperty(name).GetDecimal();

    [Fact]
    public async Task Json_output_reprices_the_ledger_as_used_all_on_haiku_and_on_a_mix()
    {
        await WriteLedgerAsync();

        var json = (await SavingsAsync("--all-on", "haiku", "--mix", "haiku=70,sonnet=20,opus=10", "--format", "json")).Json();

        Assert.Equal(
            ["calls", "calls_without_recorded_cost", "price_date", "from", "to", "recorded_usd", "caching_saved_usd", "calls_by_model", "recorded_by_model", "scenarios"],
            json.EnumerateObject().Select(p => p.Name));
        Assert.Equal(4, json.GetProperty("calls").GetInt64());
        Assert.Equal(1, json.GetProperty("calls_without_recorded_cost").GetInt64());
        Assert.Equal("2026-03-20T00:00:00+00:00", json.GetProperty("price_date").GetString());
        Assert.Equal("2026-03-01T09:00:00+00:00", json.GetProperty("from").GetString());
        Assert.Equal("2026-03-01T09:03:00+00:00", json.GetProperty("to").GetString());
        Assert.Equal(0.588m, Dec(json, "recorded_usd")); // 0.45 + 0.075 + 0.063 (r4 has no recorded cost)
        Assert.Equal("0.588", json.GetProperty("recorded_usd").GetRawText()); // normalized: no trailing zeros
        var calls = json.GetProperty("calls_by_model");
        Assert.Equal([Haiku, "claude-opus-4-6", Sonnet45, "claude-sonnet-4-6"], calls.EnumerateObject().Select(p => p.Name));
        Assert.All(calls.EnumerateObject(), p => Assert.Equal(1, p.Value.GetInt64()));
        Assert.False(json.GetProperty("recorded_by_model").TryGetProperty("claude-opus-4-6", out _));

        var scenarios = json.GetProperty("scenarios").EnumerateArray().ToList();
        Assert.Equal(["as-used", "all-on " + Haiku, "mix haiku=70,sonnet=20,opus=10"], scenarios.Select(s => s.GetProperty("name").GetString()));
        Assert.All(scenarios, s => Assert.Equal(["name", "total_usd", "by_model", "difference_usd", "difference_fraction", "infeasible_calls", "infeasible", "estimated", "effort_estimates"], s.EnumerateObject().Select(p => p.Name)));
        Assert.All(scenarios, s => Assert.Equal(0, s.GetProperty("infeasible_calls").GetInt64())); // every call fits every target

        var asUsed = scenarios[0];
        Assert.Equal(0.663m, Dec(asUsed, "total_usd")); // r1–r4 as worked above WriteLedgerAsync
        Assert.Equal(0.45m, Dec(asUsed.GetProperty("by_model"), Sonnet45)); // r1
        Assert.Equal(0.075m, Dec(asUsed.GetProperty("by_model"), "claude-opus-4-6")); // r4 repriced
        Assert.Equal(0m, Dec(asUsed, "difference_usd"));

        // all on Haiku: r1 0.10 + 0.05 = 0.15; r2 0.075; r3 0.001 + 0.01 + 0.01 = 0.021; r4 0.01 + 0.005 = 0.015 → $0.261
        var allOn = scenarios[1];
        Assert.Equal(0.261m, Dec(allOn, "total_usd"));
        Assert.Equal(-0.402m, Dec(allOn, "difference_usd")); // 0.261 − 0.663
        Assert.Equal(-0.402m / 0.663m, Dec(allOn, "difference_fraction"));

        // per model totals: Haiku 0.261; Sonnet 4.6 0.45 + 0.225 + 0.063 + 0.045 = 0.783; Opus 4.6 0.75 + 0.375 + 0.105 + 0.075 = 1.305
        // mix: 0.7 × 0.261 = 0.1827; 0.2 × 0.783 = 0.1566; 0.1 × 1.305 = 0.1305 → $0.4698, -$0.1932
        var mix = scenarios[2];
        Assert.Equal(0.1827m, Dec(mix.GetProperty("by_model"), Haiku));
        Assert.Equal(0.1566m, Dec(mix.GetProperty("by_model"), "claude-sonnet-4-6"));
        Assert.Equal(0.1305m, Dec(mix.GetProperty("by_model"), "claude-opus-4-6"));
        Assert.Equal(0.4698m, Dec(mix, "total_usd"));
        Assert.Equal(-0.1932m, Dec(mix, "difference_usd"));
    }

    [Fact]
    public async Task Table_output_names_the_scenarios_and_flags_calls_without_recorded_cost()
    {
        await WriteLedgerAsync();

        var result = await SavingsAsync("--all-on", "haiku", "--mix", "haiku=70,sonnet=20,opus=10");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("4 calls (2026-03-01 09:00 → 2026-03-01 09:03)", result.Output);
        Assert.Contains("recorded cost $0.588", result.Output);
        Assert.Contains("1 calls had no recorded cost", result.Output);
        Assert.Matches(@"claude-opus-4-6\s+│\s+1\s+│\s+unknown", result.Output); // not $0
        Assert.Contains("The same tokens at the prices of 2026-03-20", result.Output);
        Assert.Contains("as-used", result.Output);
        Assert.Contains("all-on " + Haiku, result.Output); // not wrapped mid-id when captured
        Assert.Contains("mix haiku=70,sonnet=20,opus=10", result.Output);
        Assert.Contains("-$0.402 (-60.6%)", result.Output);
        Assert.Contains("-$0.1932 (-29.1%)", result.Output);
        Assert.DoesNotContain("\u001b[", result.Output);
    }

    [Fact]
    public async Task From_and_to_select_a_window_of_the_ledger()
    {
        await WriteLedgerAsync();

        var json = (await SavingsAsync("--from", "2026-03-01T09:01:00Z", "--to", "2026-03-01T09:03:00Z", "--format", "json")).Json();

        Assert.Equal(2, json.GetProperty("calls").GetInt64()); // r2 and r3; --to is exclusive
        Assert.Equal(0.075m + 0.063m, Dec(json.GetProperty("scenarios")[0], "total_usd")); // r2 + r3, as worked above WriteLedgerAsync
    }

    [Fact]
    public async Task An_unknown_model_in_the_ledger_fails_with_a_message_naming_it()
    {
        await using (var ledger = await BufferedLedger.OpenSqliteAsync(_db.FilePath))
        {
            await ledger.RecordAsync(Record(0, "claude-imaginary-9", new TokenUsage(10, 10), null, status: LedgerStatus.Unpriced));
        }

        var result = await SavingsAsync();

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("modelmix savings: ", result.Error);
        Assert.Contains("claude-imaginary-9", result.Error);
        Assert.Equal(string.Empty, result.Output);
    }

    [Fact]
    public async Task On_the_command_line_the_embedded_book_says_to_pass_prices_not_to_set_a_configuration_key()
    {
        await using (var ledger = await BufferedLedger.OpenSqliteAsync(_db.FilePath))
        {
            await ledger.RecordAsync(Record(0, "claude-imaginary-9", new TokenUsage(10, 10), null, status: LedgerStatus.Unpriced));
        }

        var result = await Cli.RunAsync("savings", "--db", _db.FilePath); // the embedded book: no --prices

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("pass your own with --prices FILE", result.Error);
        Assert.DoesNotContain("ModelMix:Prices", result.Error);
    }

    [Fact]
    public async Task A_missing_ledger_file_exits_1_with_a_message_on_the_error_writer()
    {
        var missing = Path.Combine(_folder.Path, "nope.db");

        var result = await Cli.RunAsync("savings", "--db", missing);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"the ledger '{missing}' does not exist", result.Error);
        Assert.Equal(string.Empty, result.Output);
        Assert.False(File.Exists(missing)); // not created by looking
    }

    [Fact]
    public async Task A_file_that_is_not_a_ledger_exits_1_with_a_message()
    {
        var notDb = _folder.Write("notes.db", "this is not a SQLite database, just some text long enough to have a header......");

        var result = await Cli.RunAsync("savings", "--db", notDb);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("modelmix savings: ", result.Error);
    }

    [Fact]
    public async Task Input_from_a_csv_export_is_priced_like_the_ledger()
    {
        // 100,000 in + 10,000 out on Sonnet 4.5 = $0.45 and the same on Haiku = $0.15; all on Haiku = $0.30
        var csv = _folder.Write("usage.csv", """
            timestamp,model,input_tokens,output_tokens,cost_usd
            2026-03-01T00:00:00Z,claude-sonnet-4-5,100000,10000,0.45
            2026-03-02T00:00:00Z,claude-haiku-4-5,100000,10000,
            """);

        var json = (await Cli.RunAsync("savings", "--input", csv, "--all-on", "claude-haiku-4-5", "--price-date", "2026-03-20", "--format", "json")).Json();

        Assert.Equal(2, json.GetProperty("calls").GetInt64());
        Assert.Equal(1, json.GetProperty("calls_without_recorded_cost").GetInt64());
        Assert.Equal(0.45m, Dec(json, "recorded_usd"));
        var scenarios = json.GetProperty("scenarios");
        Assert.Equal(0.6m, Dec(scenarios[0], "total_usd")); // as used: 0.45 + 0.15
        Assert.Equal(0.3m, Dec(scenarios[1], "total_usd")); // all on Haiku: 0.15 + 0.15
        Assert.Equal(-0.5m, Dec(scenarios[1], "difference_fraction")); // (0.3 − 0.6) / 0.6

        var window = (await Cli.RunAsync("savings", "--input", csv, "--from", "2026-03-02", "--price-date", "2026-03-20", "--format", "json")).Json();
        Assert.Equal(1, window.GetProperty("calls").GetInt64());
        Assert.Equal(0.15m, Dec(window.GetProperty("scenarios")[0], "total_usd")); // the Haiku row alone
    }

    [Fact]
    public async Task A_ledger_call_that_sent_an_effort_is_kept_off_a_model_without_effort_and_one_at_the_default_is_not()
    {
        // Two Opus 4.6 calls ($5/$25 at 2026-03-20), 10,000 in + 1,000 out: 0.05 + 0.025 = $0.075 each. The first sent
        // effort max; the second sent none (its recorded high is Opus 4.6's default).
        await using (var ledger = await BufferedLedger.OpenSqliteAsync(_db.FilePath))
        {
            await ledger.RecordAsync(Record(0, "claude-opus-4-6", new TokenUsage(10_000, 1_000), 0.075m) with { Effort = "max", EffortIsDefault = false });
            await ledger.RecordAsync(Record(1, "claude-opus-4-6", new TokenUsage(10_000, 1_000), 0.075m) with { Effort = "high", EffortIsDefault = true });
        }

        var allOn = (await SavingsAsync("--all-on", "haiku", "--format", "json")).Json().GetProperty("scenarios")[1];

        // The second moves to Haiku 4.5 ($1/$5): 0.01 + 0.005 = $0.015; the first stays at $0.075. Total $0.09.
        Assert.Equal(0.09m, Dec(allOn, "total_usd"));
        Assert.Equal(1, allOn.GetProperty("infeasible_calls").GetInt64());
        Assert.Equal("effort-unsupported", allOn.GetProperty("infeasible")[0].GetProperty("reason").GetString());
    }

    [Fact]
    public async Task An_effort_entry_is_estimated_from_the_ledgers_own_calls_at_that_effort_and_says_so()
    {
        // Claude Opus 5.5 at 2026-12-01: $4 / $20 per MTok. 20 calls at medium (1,000 in + 1,000 out = $0.024 each) and
        // 20 at low (1,000 in + 400 out = $0.012 each): as used $0.48 + $0.24 = $0.72. opus@low: the medium calls' output
        // × (400 / 1,000) = 400, so 40 × $0.012 = $0.48, i.e. -$0.24.
        await using (var ledger = await BufferedLedger.OpenSqliteAsync(_db.FilePath))
        {
            for (var i = 0; i < 40; i++)
            {
                var low = i % 2 == 1;
                await ledger.RecordAsync(Record(i, "claude-opus-5-5", new TokenUsage(1_000, low ? 400 : 1_000), low ? 0.012m : 0.024m) with { Effort = low ? "low" : "medium", EffortIsDefault = !low });
            }
        }

        var run = await Cli.RunAsync("savings", "--db", _db.FilePath, "--price-date", "2026-12-01", "--mix", "opus@low=100", "--format", "json");
        var json = run.Json();

        var mix = json.GetProperty("scenarios")[1];
        Assert.Equal("mix opus@low=100", mix.GetProperty("name").GetString());
        Assert.Equal(0.48m, Dec(mix, "total_usd"));
        Assert.Equal(0.48m, mix.GetProperty("by_model").GetProperty("claude-opus-5-5@low").GetDecimal());
        Assert.True(mix.GetProperty("estimated").GetBoolean());
        var estimate = Assert.Single(mix.GetProperty("effort_estimates").EnumerateArray().ToList());
        Assert.Equal("claude-opus-5-5@low", estimate.GetProperty("entry").GetString());
        Assert.Equal(20, estimate.GetProperty("calls_at_effort").GetInt64());
        Assert.Equal(400m, Dec(estimate, "mean_output_tokens"));
        Assert.Equal(28_000m, Dec(estimate, "output_tokens_recorded"));
        Assert.Equal(16_000m, Dec(estimate, "output_tokens_estimated"));
        Assert.False(json.GetProperty("scenarios")[0].GetProperty("estimated").GetBoolean());

        var table = await Cli.RunAsync("savings", "--db", _db.FilePath, "--price-date", "2026-12-01", "--mix", "opus@low=100");
        Assert.Equal(0, table.ExitCode);
        var text = System.Text.RegularExpressions.Regex.Replace(table.Output, @"\s+", " ");
        Assert.Contains("claude-opus-5-5@low is an estimate", text, StringComparison.Ordinal);
        Assert.Contains("output tokens x0.57", text, StringComparison.Ordinal); // 16,000 / 28,000

        var tooFew = await Cli.RunAsync("savings", "--db", _db.FilePath, "--price-date", "2026-12-01", "--mix", "opus@high=100");
        Assert.Equal(1, tooFew.ExitCode);
        Assert.Contains("claude-opus-5-5@high cannot be estimated: the traffic has 0 call(s) on claude-opus-5-5 at high effort", tooFew.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_errors_and_bad_options_exit_1_with_a_message()
    {
        var bad = _folder.Write("bad.csv", "model,input_tokens\nclaude-haiku-4-5,lots\n");
        var untimed = _folder.Write("untimed.csv", "model,input_tokens\nclaude-haiku-4-5,1\n");

        var badRow = await Cli.RunAsync("savings", "--input", bad);
        Assert.Equal(1, badRow.ExitCode);
        Assert.Contains($"{bad}:2: input_tokens must be a non-negative integer, got 'lots'", badRow.Error);

        var noTimestamps = await Cli.RunAsync("savings", "--input", untimed, "--from", "2026-03-01");
        Assert.Equal(1, noTimestamps.ExitCode);
        Assert.Contains("without a timestamp", noTimestamps.Error);

        var badMix = await Cli.RunAsync("savings", "--input", untimed, "--mix", "haiku=60,sonnet=30");
        Assert.Equal(1, badMix.ExitCode);
        Assert.Contains("add up to 90%", badMix.Error);

        var badDate = await Cli.RunAsync("savings", "--input", untimed, "--price-date", "next tuesday");
        Assert.NotEqual(0, badDate.ExitCode);
        Assert.Contains("'next tuesday' is not a date or time", badDate.Error);

        var badFormat = await Cli.RunAsync("savings", "--input", untimed, "--format", "xml");
        Assert.NotEqual(0, badFormat.ExitCode);
    }
}
