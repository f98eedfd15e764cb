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
        var allOn = new Option<string[]>("--all-on") { Description = "Price all traffic on this model or tier (haiku, sonnet, opus); repeatable.", AllowMultipleArgumentsPerToken = false };
        var mix = new Option<string[]>("--mix") { Description = "A what-if mix such as haiku=70,sonnet=20,opus=10; repeatable." };
        var from = new Option<DateTimeOffset?>("--from") { Description = "Only calls at or after this time (ledger only)." };
        var to = new Option<DateTimeOffset?>("--to") { Description = "Only calls before this time (ledger only)." };
        var priceDate = new Option<DateTimeOffset?>("--price-date") { Description = "Price the scenarios at this date's prices (default: now)." };
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
                    rows = UsageExportReader.Read(inputPath).ToList();
                }
                else
                {
                    var dbPath = result.GetValue(db)!;
                    if (!File.Exists(dbPath))
                    {
                        await error.WriteLineAsync($"modelmix savings: the ledger '{dbPath}' does not exist (pass --db PATH, or --input FILE for a usage export).");
                        return 1;
                    }

                    rows = await ReadLedgerAsync(dbPath, result.GetValue(from), result.GetValue(to), cancellationToken);
                }

                var report = SavingsCalculator.Compute(rows, book, when, result.GetValue(allOn) ?? [], mixes);
                if (result.GetValue(format) == "json")
                {
                    await output.WriteLineAsync(JsonSerializer.Serialize(report, Output.Json));
                }
                else
                {
                    Render(Output.Console(output), report);
                }

                return 0;
            }
            catch (Exception exception) when (exception is FormatException or PricingException or FileNotFoundException or IOException or InvalidOperationException)
            {
                await error.WriteLineAsync("modelmix savings: " + exception.Message);
                return 1;
            }
        });
        return command;
    }

    private static async Task<List<UsageRow>> ReadLedgerAsync(string path, DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken)
    {
        await using var store = new SqliteLedgerStore(path);
        await store.MigrateAsync(cancellationToken);
        var rows = new List<UsageRow>();
        await foreach (var record in store.ReadAsync(new LedgerQuery { From = from, To = to }, cancellationToken))
        {
            var usage = record.Usage;
            if (usage.InputTokens == 0 && usage.OutputTokens == 0 && usage.TotalInputTokens == 0)
            {
                continue;
            }

            rows.Add(new UsageRow(record.Timestamp, record.ResponseModel ?? record.RoutedModel, usage, record.Cost?.Total));
        }

        return rows;
    }

    private static void Render(IAnsiConsole console, SavingsReport report)
    {
        var span = report.From is { } first && report.To is { } last
            ? $"{first.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} → {last.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)}"
            : "no timestamps";
        console.MarkupLine($"[bold]{report.Calls}[/] calls ({Markup.Escape(span)}); recorded cost [bold]{Output.Usd(report.RecordedUsd)}[/]" +
            (report.CallsWithoutRecordedCost > 0 ? $" ([yellow]{report.CallsWithoutRecordedCost} calls had no recorded cost[/])" : string.Empty));

        var used = new Table().Title("Traffic as used").AddColumn("model").AddColumn(new TableColumn("calls").RightAligned()).AddColumn(new TableColumn("recorded").RightAligned());
        foreach (var (model, calls) in report.CallsByModel)
        {
            used.AddRow(Markup.Escape(model), calls.ToString("N0", CultureInfo.InvariantCulture), Output.Usd(report.RecordedByModel.GetValueOrDefault(model)));
        }

        console.Write(used);

        var scenarios = new Table().Title($"The same tokens at the prices of {report.PriceDate:yyyy-MM-dd}")
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
    }
}
