using ModelMix.Evaluation;
using ScottPlot;

namespace ModelMix.Cli;

/// <summary>The cost-quality chart of <c>modelmix eval --out</c> (ScottPlot, rendered headless through SkiaSharp).</summary>
internal static class EvaluationChart
{
    public static string Write(EvaluationReport report, string path)
    {
        var plot = new Plot();
        foreach (var policy in report.Policies.Where(p => p.Curve is not null))
        {
            var curve = policy.Curve!;
            var line = plot.Add.ScatterLine(curve.Select(p => p.Cost * 100).ToArray(), curve.Select(p => p.Quality * 100).ToArray());
            line.LegendText = policy.Name + " (sweep)";
            line.LineWidth = 1.5f;
        }

        foreach (var policy in report.Policies)
        {
            var marker = plot.Add.Marker(policy.CostPctOfTop * 100, policy.QualityPctOfTop * 100, MarkerShape.FilledCircle, 9);
            var label = plot.Add.Text(policy.Name, policy.CostPctOfTop * 100, policy.QualityPctOfTop * 100);
            label.LabelFontSize = 11;
            label.OffsetX = 6;
            label.OffsetY = -6;
            _ = marker;
        }

        plot.Title($"{report.Dataset} ({report.Split.ToString().ToLowerInvariant()} split, n = {report.N})");
        plot.XLabel("cost, % of always-top");
        plot.YLabel("quality, % of always-top");
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 900, 600);
        return path;
    }
}
