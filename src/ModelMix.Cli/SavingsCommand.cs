using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ModelMix.Evaluation;
using ModelMix.Ledger;
using ModelMix.Pricing;
using Spectre.Console;

namespace ModelMix.Cli;

/// <summary>
/// <c>modelmix savings</c>: what the recorded traffic cost, and what the same tokens would cost all on one model or
/// on a what-if mix.
/// </summary>
internal static class SavingsCommand
{
    public static Command Create()
    {
        var db = CommonOptions.Db();
        var input = new Option<string?>("--input") { Description = "Read a usage export (.jsonl or .csv with model and token columns) instead of the ledger." };
        var allOn = new Option<string[]>("--all-on")
        {
            Description = "Price all traffic on this model or tier (haiku, sonnet, opus); repeatable. A call the model could not have served " +
                "(prompt over its context window, output over its maximum, an inference_geo or an effort the call sent that it refuses, retired) stays on the model that served it, at its as-used cost, and is counted.",
            AllowMultipleArgumentsPerToken = false,
        };
        var mix = new Option<string[]>("--mix")
        {
            Description = "A what-if mix such as haiku=70,sonnet=20,opus=10; repeatable. Calls a model of the mix could not have served are kept and counted as for --all-on. " +
                $"An entry may name an effort (opus@low=30): its output tokens are then estimated from your own calls on that model at that effort (at least {SavingsCalculator.MinCallsPerEffort}), and the scenario is marked as an estimate.",
        };
        var from = CommonOptions.Instant("--from", "Only calls at or after this time.");
        var to = CommonOptions.Instant("--to", "Only calls before this time (exclusive).");
        var priceDate = CommonOptions.Instant("--price-date", "Price the scenarios at this date's prices (default: now).");
        var prices = CommonOptions.Prices();
        var format = CommonOptions.Format();
        var command = new Command("savings", "What your traffic cost, and what it would cost all on one model or on a what-if mix.")
        {
            db, input, allOn, mix, from, to, priceDate, prices, format,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            try
            {
                var book = result.GetValue(prices) is { } path ? PriceBook.Load(path) : PriceBook.Default;
                var mixes = (result.GetValue(mix) ?? []).Select(text => WhatIfMix.Parse(text, book)).ToList();
                var when = result.GetValue(priceDate) ?? DateTimeOffset.UtcNow;
                List<UsageRow> rows;
                if (result.GetValue(input) is { } inputPath)
                {
                    rows = Filter(UsageExportReader.Read(inputPath), inputPath, result.GetValue(from), result.GetValue(to)).ToList();
                }
                else
                {
                    var dbPath = result.GetValue(db)!;
                    if (ModelMix.Stores.StoreLocation.NamesMissingFile(dbPath))
                    {
                        await error.WriteLineAsync($"modelmix savings: the ledger '{dbPath}' does not exist (pass --db PATH, or --input FILE for a usage export).");
                        return 1;
                    }

                    rows = await ReadLedgerAsync(dbPath, book, result.GetValue(from), result.GetValue(to), cancellationToken);
                }

                var report = SavingsCalculator.Compute(rows, book, when, result.GetValue(allOn) ?? [], mixes);
                if (result.GetValue(format) == "json")
                {
                    await output.WriteLineAsync(JsonSerializer.Serialize(ToJson(report), Output.Json));
                }
                else
                {
                    Render(Output.Console(output), report);
                }

                return 0;
            }
            catch (Exception exception) when (exception is FormatException or PricingException or FileNotFoundException or IOException or InvalidOperationException or System.Data.Common.DbException)
            {
                await error.WriteLineAsync("modelmix savings: " + CliErrors.Message(exception));
                return 1;
            }
        });
        return command;
    }

    private static async Task<List<UsageRow>> ReadLedgerAsync(string path, PriceBook prices, DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken)
    {
        await using var store = ModelMix.Stores.StoreLocation.Parse(path).CreateLedgerStore();
        await store.MigrateAsync(cancellationToken);
        var rows = new List<UsageRow>();
        await foreach (var record in store.ReadAsync(new LedgerQuery { From = from, To = to }, cancellationToken))
        {
            var usage = record.Usage;
            if (usage.InputTokens == 0 && usage.OutputTokens == 0 && usage.TotalInputTokens == 0 && !usage.HasServerToolUse)
            {
                continue;
            }

            // The model that served the call, by the rule the proxy priced it with (AttemptRecorder): the response's
            // model when the book knows it, else the routed model.
            var model = record.ResponseModel is { } responseModel && prices.TryResolveId(responseModel, out _) ? responseModel : record.RoutedModel;
            rows.Add(new UsageRow(record.Timestamp, model, usage, record.Cost?.Total) { Effort = record.Effort, EffortSent = record.Effort is not null && !record.EffortIsDefault });
        }

        return rows;
    }

    /// <summary>Applies <c>--from</c> / <c>--to</c> to a usage export, the way the ledger query does (from inclusive, to exclusive).</summary>
    private static IEnumerable<UsageRow> Filter(IEnumerable<UsageRow> rows, string path, DateTimeOffset? from, DateTimeOffset? to)
    {
        if (from is null && to is null)
        {
            return rows;
        }

        return rows.Where(row => row.Timestamp is { } at
            ? (from is null || at >= from) && (to is null || at < to)
            : throw new FormatException($"--from/--to: {path} has a row for {row.Model} without a timestamp, so it cannot be filtered by time (add a timestamp column, or drop --from/--to)."));
    }

    /// <summary>
    /// The documented <c>--format json</c> shape (docs/cli.md), spelled out here so that renaming a property of
    /// <see cref="SavingsReport"/> can never silently change the command's output.
    /// </summary>
    internal static object ToJson(SavingsReport report) => new
    {
        calls = report.Calls,
        calls_without_recorded_cost = report.CallsWithoutRecordedCost,
        price_date = report.PriceDate,
        from = report.From,
        to = report.To,
        recorded_usd = report.RecordedUsd,
        caching_saved_usd = report.CachingSavedUsd,
        calls_by_model = report.CallsByModel,
        recorded_by_model = report.RecordedByModel,
        scenarios = report.Scenarios.Select(scenario => new
        {
            name = scenario.Name,
            total_usd = scenario.TotalUsd,
            by_model = scenario.ByModel,
            difference_usd = scenario.DifferenceUsd,
            difference_fraction = scenario.DifferenceFraction,
            infeasible_calls = scenario.InfeasibleCalls,
            infeasible = scenario.Infeasible.Select(calls => new
            {
                model = calls.Model,
                reason = calls.ReasonCode,
                reason_text = calls.ReasonText,
                calls = calls.Calls,
                kept_usd = calls.KeptUsd,
            }),
            estimated = scenario.EffortEstimates.Count > 0,
            effort_estimates = scenario.EffortEstimates.Select(estimate => new
            {
                entry = estimate.Entry,
                calls_at_effort = estimate.CallsAtEffort,
                mean_output_tokens = estimate.MeanOutputTokens,
                output_tokens_recorded = estimate.RecordedOutputTokens,
                output_tokens_estimated = estimate.EstimatedOutputTokens,
            }),
        }),
    };

    private static void Render(IAnsiConsole console, SavingsReport report)
    {
        var span = report.From is { } first && report.To is { } last
            ? $"{first.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} → {last.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)}"
            : "no timestamps";
        console.MarkupLine($"[bold]{report.Calls}[/] calls ({Markup.Escape(span)}); recorded cost [bold]{Output.Usd(report.RecordedUsd)}[/]" +
            (report.CallsWithoutRecordedCost > 0 ? $" ([yellow]{report.CallsWithoutRecordedCost} calls had no recorded cost[/])" : string.Empty));
        console.MarkupLine(report.CachingSavedUsd >= 0
            ? $"prompt caching saved [bold]{Output.Usd(report.CachingSavedUsd)}[/] (cache writes and reads vs the same tokens as plain input)"
            : $"prompt caching cost [yellow]{Output.Usd(-report.CachingSavedUsd)}[/] more than plain input (cache writes not read back enough)");

        var used = new Table().Title("Traffic as used").AddColumn("model").AddColumn(new TableColumn("calls").RightAligned()).AddColumn(new TableColumn("recorded").RightAligned());
        foreach (var (model, calls) in report.CallsByModel)
        {
            // A model none of whose calls has a recorded cost shows "unknown", not $0.
            var recorded = report.RecordedByModel.TryGetValue(model, out var cost) ? Output.Usd(cost) : "unknown";
            used.AddRow(Markup.Escape(model), calls.ToString("N0", CultureInfo.InvariantCulture), recorded);
        }

        console.Write(used);

        var scenarios = new Table().Title($"The same tokens at the prices of {report.PriceDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}")
            .AddColumn("scenario").AddColumn("by model").AddColumn(new TableColumn("total").RightAligned()).AddColumn(new TableColumn("vs as-used").RightAligned());
        foreach (var scenario in report.Scenarios)
        {
            var byModel = string.Join("\n", scenario.ByModel.Select(pair => $"{pair.Key}: {Output.Usd(pair.Value)}"));
            var difference = scenario.Name == "as-used"
                ? "baseline"
                : $"{(scenario.DifferenceUsd <= 0 ? "[green]" : "[red]")}{Output.Usd(scenario.DifferenceUsd)} ({Output.Percent(scenario.DifferenceFraction)})[/]";
            scenarios.AddRow(Markup.Escape(scenario.Name), Markup.Escape(byModel), Output.Usd(scenario.TotalUsd), difference);
        }

        console.Write(scenarios);
        foreach (var scenario in report.Scenarios)
        {
            // An effort entry is an estimate: say so, and from what.
            foreach (var estimate in scenario.EffortEstimates)
            {
                var factor = estimate.RecordedOutputTokens == 0 ? 1m : estimate.EstimatedOutputTokens / estimate.RecordedOutputTokens;
                console.MarkupLine($"[yellow]{Markup.Escape($"{scenario.Name}: {estimate.Entry} is an estimate")}[/]" + Markup.Escape(string.Create(
                    CultureInfo.InvariantCulture,
                    $": output tokens x{factor:0.00} ({estimate.RecordedOutputTokens:N0} recorded -> {estimate.EstimatedOutputTokens:N0}), from your {estimate.CallsAtEffort:N0} calls at that effort ({estimate.MeanOutputTokens:N0} output tokens per call); measure it with shadow mode before relying on it")));
            }
        }

        foreach (var scenario in report.Scenarios.Where(scenario => scenario.InfeasibleCalls > 0))
        {
            // Never silent: which calls the scenario's models could not have served, and how they were priced instead.
            foreach (var calls in scenario.Infeasible)
            {
                console.MarkupLine(Markup.Escape($"{scenario.Name}: {calls.Calls} call(s) {calls.Model} could not have served ({calls.ReasonCode}: {calls.ReasonText}); ") +
                    $"[yellow]{Markup.Escape($"priced as served, on the model that served them: {Output.Usd(calls.KeptUsd)}")}[/]");
            }
        }
    }
}
