using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ModelMix.Evaluation;
using ModelMix.Routing;
using Spectre.Console;

namespace ModelMix.Cli;

/// <summary>
/// <c>modelmix eval</c>: replays every policy over a routing dataset split and reports cost, quality and RouteLLM's
/// metrics; with <c>--out</c>, also a cost-quality chart (SVG) and a Markdown report.
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var dataset = DatasetOptions.Dataset();
        var cheap = DatasetOptions.Model("--cheap", "The dataset model of the cheap tier.", required: true);
        var mid = DatasetOptions.Model("--mid", "The dataset model of the middle tier (optional).", required: false);
        var top = DatasetOptions.Model("--top", "The dataset model of the top tier.", required: true);
        var routerFile = new Option<string?>("--router") { Description = "A learned router file (modelmix train, calibrate) to replay as 'learned'." };
        var floor = DatasetOptions.Fraction("--quality-floor", "The floor per-task pins must keep, as a fraction of the top tier's quality (default 0.95).");
        var format = CommonOptions.Format();
        var output = new Option<string?>("--out") { Description = "A folder for the chart (cost-quality.svg) and the report (report.md)." };
        var split = DatasetOptions.Split("test");
        var seed = DatasetOptions.Seed();
        var verifierThreshold = DatasetOptions.Fraction("--verifier-threshold", "The verified cascade keeps the cheap answer when its recorded verifier outcome is at least this (default 0.5).");
        var command = new Command("eval", "Replay routing policies over a dataset of real model outcomes: cost, quality, APGR with a bootstrap interval against random, CPT; a verified cascade when the data records verifier outcomes.")
        {
            dataset, cheap, mid, top, routerFile, floor, format, output, split, seed, verifierThreshold,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var json = result.GetValue(format) == "json";
            var console = Output.Console(json ? result.InvocationConfiguration.Error : result.InvocationConfiguration.Output);
            var error = result.InvocationConfiguration.Error;
            try
            {
                var path = result.GetValue(dataset)!;
                var router = result.GetValue(routerFile) is { } file ? LearnedRouter.Load(file) : null;
                var records = DatasetOptions.Read(path, console);
                var options = new OfflineEvaluationOptions
                {
                    Split = DatasetSplitter.Parse(result.GetValue(split)!),
                    Seed = result.GetValue(seed),
                    Router = router,
                    QualityFloor = result.GetValue(floor) ?? 0.95,
                    VerifierThreshold = result.GetValue(verifierThreshold) ?? 0.5,
                };
                var tiers = new EvaluationTiers(result.GetValue(cheap)!, result.GetValue(mid), result.GetValue(top)!);
                EvaluationReport? report = null;
                console.Progress().AutoClear(true).Start(context =>
                {
                    var task = context.AddTask("replaying policies", maxValue: 1);
                    report = OfflineEvaluator.Evaluate(records, Path.GetFileName(path), tiers, options, done => task.Value = done);
                });
                if (result.GetValue(output) is { } folder)
                {
                    Directory.CreateDirectory(folder);
                    var chart = EvaluationChart.Write(report!, Path.Combine(folder, "cost-quality.svg"));
                    await File.WriteAllTextAsync(Path.Combine(folder, "report.md"), EvaluationMarkdown.Render(report!, Path.GetFileName(chart)), cancellationToken);
                }

                if (json)
                {
                    await result.InvocationConfiguration.Output.WriteLineAsync(JsonSerializer.Serialize(ToJson(report!), Output.Json));
                }
                else
                {
                    Render(console, report!);
                }

                return 0;
            }
            catch (Exception exception) when (exception is FormatException or IOException or InvalidOperationException or RoutingConfigurationException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync("modelmix eval: " + exception.Message);
                return 1;
            }
        });
        return command;
    }

    /// <summary>The <c>--format json</c> document: dataset, n and one object per policy (fractions in [0, 1]).</summary>
    internal static object ToJson(EvaluationReport report) => new
    {
        report.Dataset,
        report.N,
        Split = report.Split.ToString().ToLowerInvariant(),
        report.Seed,
        report.Skipped,
        Tiers = new { report.Tiers.Cheap, report.Tiers.Mid, report.Tiers.Top },
        Policies = report.Policies.Select(p => new
        {
            p.Name,
            p.CostUsd,
            p.Quality,
            p.QualityPctOfTop,
            p.CostPctOfTop,
            p.ShareByModel,
            p.Apgr,
            ApgrLower = p.ApgrInterval?.Lower,
            ApgrUpper = p.ApgrInterval?.Upper,
            BeatsRandom = p.ApgrInterval?.BeatsRandom,
            p.Cpt50,
            p.Cpt80,
            p.AccuracyPerDollar,
            p.Note,
        }),
        report.Notes,
    };

    private static void Render(IAnsiConsole console, EvaluationReport report)
    {
        console.WriteLine($"{report.Dataset}: {report.N} prompts (split {report.Split.ToString().ToLowerInvariant()}, seed {report.Seed}; {report.Skipped} skipped); tiers {report.Tiers.Cheap} / {report.Tiers.Mid ?? "-"} / {report.Tiers.Top}");
        var table = new Table().AddColumns("policy", "cost", "quality", "% of top quality", "% of top cost", "calls per model", "quality/$", "APGR", "APGR 95% interval", "CPT(50%)", "CPT(80%)");
        foreach (var p in report.Policies)
        {
            table.AddRow(
                Markup.Escape(p.Name),
                Output.Usd(p.CostUsd),
                F(p.Quality, "0.000"),
                F(p.QualityPctOfTop, "P1"),
                F(p.CostPctOfTop, "P1"),
                Markup.Escape(string.Join(", ", p.ShareByModel.Select(s => $"{s.Key} {s.Value.ToString("P0", CultureInfo.InvariantCulture)}"))),
                F(p.AccuracyPerDollar, "0"),
                p.Apgr is { } a ? F(a, "0.000") : "-",
                p.ApgrInterval is { } i ? $"{F(i.Lower, "0.000")}–{F(i.Upper, "0.000")}" : "-",
                p.Cpt50 is { } c5 ? F(c5, "P1") : "-",
                p.Cpt80 is { } c8 ? F(c8, "P1") : "-");
        }

        console.Write(table);
        foreach (var note in report.Notes)
        {
            console.WriteLine("note: " + note);
        }
    }

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
