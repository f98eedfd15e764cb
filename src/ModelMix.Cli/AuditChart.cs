using ModelMix.Audit;

namespace ModelMix.Cli;

/// <summary>The PNG chart of <c>modelmix audit --chart</c>: spend per day, stacked by model (ScottPlot, rendered headless).</summary>
internal static class AuditChart
{
    public static void Save(AuditReport report, string path)
    {
        var plot = new ScottPlot.Plot();
        var models = report.ByModel.Select(b => b.Name).ToList();
        var days = report.ByDayAndModel.Keys.ToList();
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<ScottPlot.Bar>();
        for (var d = 0; d < days.Count; d++)
        {
            var bottom = 0.0;
            for (var m = 0; m < models.Count; m++)
            {
                var value = (double)report.ByDayAndModel[days[d]].GetValueOrDefault(models[m]);
                if (value <= 0)
                {
                    continue;
                }

                bars.Add(new ScottPlot.Bar { Position = d, ValueBase = bottom, Value = bottom + value, FillColor = palette.GetColor(m) });
                bottom += value;
            }
        }

        plot.Add.Bars(bars);
        for (var m = 0; m < models.Count; m++)
        {
            plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = models[m], FillColor = palette.GetColor(m) });
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, days.Count).Select(i => (double)i).ToArray(), days.Select(day => day[5..]).ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = days.Count > 20 ? 45 : 0;
        plot.Axes.Bottom.MinimumSize = days.Count > 20 ? 60 : 0;
        plot.Axes.Margins(bottom: 0, top: 0.3); // headroom for the legend above the bars
        plot.Title($"Spend per day by model — total ${report.TotalUsd:0.00}");
        plot.YLabel("USD");
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plot.SavePng(path, 1000, 500);
    }
}
