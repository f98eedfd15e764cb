using System.Globalization;
using System.Text;
using ModelMix.Evaluation;

namespace ModelMix.Cli;

/// <summary>The Markdown report <c>modelmix eval --out</c> writes.</summary>
internal static class EvaluationMarkdown
{
    public static string Render(EvaluationReport report, string chartFile)
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"# Routing evaluation: {report.Dataset}");
        text.AppendLine();
        text.AppendLine(c, $"{report.N} prompts, split `{report.Split.ToString().ToLowerInvariant()}` (seed {report.Seed}), {report.Skipped} skipped. Tiers: cheap `{report.Tiers.Cheap}`, mid `{report.Tiers.Mid ?? "-"}`, top `{report.Tiers.Top}`.");
        text.AppendLine();
        text.AppendLine(c, $"![cost and quality]({chartFile})");
        text.AppendLine();
        text.AppendLine("| policy | cost (USD) | quality | % of top quality | % of top cost | calls per model | quality/$ | APGR | APGR 95% interval | CPT(50%) | CPT(80%) |");
        text.AppendLine("|---|---:|---:|---:|---:|---|---:|---:|---|---:|---:|");
        foreach (var p in report.Policies)
        {
            text.AppendLine(c, $"| {p.Name} | {Output.Normalize(p.CostUsd)} | {p.Quality:0.000} | {p.QualityPctOfTop:P1} | {p.CostPctOfTop:P1} | {string.Join(", ", p.ShareByModel.Select(s => $"{s.Key} {s.Value.ToString("P0", c)}"))} | {p.AccuracyPerDollar:0} | {(p.Apgr is { } a ? a.ToString("0.000", c) : "-")} | {(p.ApgrInterval is { } i ? $"{i.Lower.ToString("0.000", c)}–{i.Upper.ToString("0.000", c)}" : "-")} | {(p.Cpt50 is { } x ? x.ToString("P1", c) : "-")} | {(p.Cpt80 is { } y ? y.ToString("P1", c) : "-")} |");
        }

        text.AppendLine();
        foreach (var p in report.Policies.Where(p => p.Note is not null))
        {
            text.AppendLine(c, $"- **{p.Name}**: {p.Note}");
        }

        foreach (var note in report.Notes)
        {
            text.AppendLine(c, $"- {note}");
        }

        text.AppendLine();
        text.AppendLine("APGR and CPT follow RouteLLM (arXiv 2406.18665): the cheap-vs-top threshold sweep of the policy's score, PGR = (quality − cheap) / (top − cheap) against the share of calls to the top model.");
        return text.ToString();
    }
}
