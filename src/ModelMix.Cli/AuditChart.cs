using System.Globalization;
using ModelMix.Audit;

namespace ModelMix.Cli;

/// <summary>The chart of <c>modelmix audit --chart</c>: spend per day, stacked by model, as an SVG image (opens in any browser).</summary>
internal static class AuditChart
{
    private const int Width = 1000;
    private const int Height = 500;
    private const int Left = 80;
    private const int Right = 20;
    private const int Top = 80;
    private const int Bottom = 60;
    private const int PlotHeight = Height - Top - Bottom;

    /// <summary>Writes the chart to <paramref name="path"/>; the file's name must end in <c>.svg</c>.</summary>
    public static void Save(AuditReport report, string path)
    {
        if (!path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"--chart writes an SVG image: name the file with .svg (got '{path}').");
        }

        SvgCanvas.Save(path, Render(report));
    }

    /// <summary>The SVG document: one <c>rect</c> per day and model with spend (its exact amount in <c>data-usd</c>), a legend, the USD axis and the days.</summary>
    internal static string Render(AuditReport report)
    {
        var models = report.ByModel.Select(b => b.Name).ToList();
        var days = report.ByDayAndModel.Keys.Order(StringComparer.Ordinal).ToList();
        var highest = days.Count == 0 ? 0m : days.Max(day => report.ByDayAndModel[day].Values.Where(v => v > 0).Sum());
        var top = SvgCanvas.NiceCeiling(highest);
        const int PlotWidth = Width - Left - Right;
        var slot = days.Count == 0 ? PlotWidth : (double)PlotWidth / days.Count;
        var barWidth = slot * 0.8;

        using var svg = new SvgCanvas(Width, Height);
        svg.Text(Width / 2.0, 24, $"Spend per day by model — total ${report.TotalUsd.ToString("0.00", CultureInfo.InvariantCulture)}", "middle", 16, "title");

        // The USD axis: gridlines at fifths of the rounded-up highest day.
        for (var i = 0; i <= 5; i++)
        {
            var value = top * i / 5;
            var y = Y(value, top);
            svg.Line(Left, y, Width - Right, y, i == 0 ? "#333" : "#ddd");
            svg.Text(Left - 6, y + 4, "$" + value.ToString(top < 1 ? "0.####" : "0.##", CultureInfo.InvariantCulture), "end");
        }

        svg.Text(16, Top + (PlotHeight / 2.0), "USD", "middle", vertical: true);

        // Every day labelled up to 31 days; past that, about 30 labels.
        var labelEvery = days.Count <= 31 ? 1 : (int)Math.Ceiling(days.Count / 30.0);
        for (var d = 0; d < days.Count; d++)
        {
            var x = Left + (slot * d) + ((slot - barWidth) / 2);
            var bottom = 0m;
            for (var m = 0; m < models.Count; m++)
            {
                var value = report.ByDayAndModel[days[d]].GetValueOrDefault(models[m]);
                if (value <= 0)
                {
                    continue;
                }

                var amount = value.ToString(CultureInfo.InvariantCulture);
                svg.Rect(x, Y(bottom + value, top), barWidth, Y(bottom, top) - Y(bottom + value, top), SvgCanvas.Palette[m % SvgCanvas.Palette.Count],
                    $"{days[d]} {models[m]}: ${amount}", ("day", days[d]), ("model", models[m]), ("usd", amount));
                bottom += value;
            }

            if (d % labelEvery == 0)
            {
                svg.Text(x + (barWidth / 2), Height - Bottom + 16, days[d].Length > 5 ? days[d][5..] : days[d], "middle", 10);
            }
        }

        // The legend, above the bars, left to right.
        var legendX = (double)Left;
        for (var m = 0; m < models.Count; m++)
        {
            svg.Rect(legendX, 44, 12, 12, SvgCanvas.Palette[m % SvgCanvas.Palette.Count]);
            svg.Text(legendX + 16, 54, models[m], cssClass: "legend");
            legendX += 28 + (7 * models[m].Length);
        }

        return svg.Finish();
    }

    /// <summary>The y of <paramref name="value"/> on an axis that ends at <paramref name="top"/> (y grows downwards).</summary>
    private static double Y(decimal value, decimal top) => Top + PlotHeight - (PlotHeight * (double)(value / top));
}
