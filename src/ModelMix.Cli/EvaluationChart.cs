using System.Globalization;
using ModelMix.Evaluation;

namespace ModelMix.Cli;

/// <summary>
/// The cost-quality chart of <c>modelmix eval --out</c>, as an SVG image: each policy a point (cost and quality as % of
/// always-top), each swept policy its curve.
/// </summary>
internal static class EvaluationChart
{
    private const int Width = 900;
    private const int Height = 600;
    private const int Left = 70;
    private const int Right = 30;
    private const int Top = 50;
    private const int Bottom = 60;
    private const int PlotWidth = Width - Left - Right;
    private const int PlotHeight = Height - Top - Bottom;

    /// <summary>Writes the chart to <paramref name="path"/> and returns the path.</summary>
    public static string Write(EvaluationReport report, string path)
    {
        SvgCanvas.Save(path, Render(report));
        return path;
    }

    internal static string Render(EvaluationReport report)
    {
        var points = report.Policies.Select(p => (X: p.CostPctOfTop * 100, Y: p.QualityPctOfTop * 100))
            .Concat(report.Policies.Where(p => p.Curve is not null).SelectMany(p => p.Curve!.Select(c => (X: c.Cost * 100, Y: c.Quality * 100))))
            .Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y))
            .ToList();
        // x from 0 to the rounded-up dearest point (at least 100 %, always-top); y over the points' range (always-top's
        // 100 % included) in steps of 1, 2 or 5 × 10ⁿ.
        var xMax = (double)SvgCanvas.NiceCeiling((decimal)Math.Max(100, points.Count == 0 ? 100 : points.Max(p => p.X)));
        var low = Math.Min(100, points.Count == 0 ? 0 : points.Min(p => p.Y));
        var high = Math.Max(100, points.Count == 0 ? 100 : points.Max(p => p.Y));
        var step = (double)SvgCanvas.NiceCeiling((decimal)Math.Max((high - low) / 5, 0.1));
        var yMin = Math.Floor(low / step) * step;
        var yMax = Math.Max(Math.Ceiling(high / step) * step, yMin + step);

        double X(double value) => Left + (PlotWidth * value / xMax);
        double Y(double value) => Top + PlotHeight - (PlotHeight * (value - yMin) / (yMax - yMin));

        using var svg = new SvgCanvas(Width, Height);
        svg.Text(Width / 2.0, 26, FormattableString.Invariant($"{report.Dataset} ({report.Split.ToString().ToLowerInvariant()} split, n = {report.N})"), "middle", 16, "title");
        for (var i = 0; i <= 5; i++)
        {
            var x = xMax * i / 5;
            svg.Line(X(x), Top, X(x), Top + PlotHeight, i == 0 ? "#333" : "#ddd");
            svg.Text(X(x), Top + PlotHeight + 16, x.ToString("0.#", CultureInfo.InvariantCulture), "middle");
        }

        for (var y = yMin; y <= yMax + (step / 2); y += step)
        {
            svg.Line(Left, Y(y), Left + PlotWidth, Y(y), y == yMin ? "#333" : "#ddd");
            svg.Text(Left - 6, Y(y) + 4, y.ToString("0.#", CultureInfo.InvariantCulture), "end");
        }

        svg.Text(Left + (PlotWidth / 2.0), Height - 16, "cost, % of always-top", "middle");
        svg.Text(18, Top + (PlotHeight / 2.0), "quality, % of always-top", "middle", vertical: true);

        // Each policy: its sweep curve, its point, and a legend entry; policies on the same spot share one label.
        var colors = report.Policies.Select((policy, i) => SvgCanvas.Palette[i % SvgCanvas.Palette.Count]).ToList();
        var spots = new Dictionary<(int, int), List<string>>();
        for (var i = 0; i < report.Policies.Count; i++)
        {
            var policy = report.Policies[i];
            if (policy.Curve is { } curve)
            {
                svg.Polyline(curve.Where(c => double.IsFinite(c.Cost) && double.IsFinite(c.Quality)).Select(c => (X(c.Cost * 100), Y(c.Quality * 100))), colors[i], 1.5, "sweep");
            }

            var (cost, quality) = (policy.CostPctOfTop * 100, policy.QualityPctOfTop * 100);
            if (double.IsFinite(cost) && double.IsFinite(quality))
            {
                svg.Circle(X(cost), Y(quality), 5, colors[i], FormattableString.Invariant($"{policy.Name}: cost {cost:0.#} %, quality {quality:0.#} %"));
                var spot = ((int)Math.Round(X(cost) / 8), (int)Math.Round(Y(quality) / 8));
                if (!spots.TryGetValue(spot, out var names))
                {
                    spots[spot] = names = [];
                }

                names.Add(policy.Name);
            }
        }

        foreach (var ((x, y), names) in spots)
        {
            svg.Text((x * 8) + 7, (y * 8) - 7, string.Join(", ", names), x * 8 > Left + (PlotWidth * 0.7) ? "end" : "start", 11, "point-label");
        }

        // The legend, lower right.
        var legendY = Top + PlotHeight - 14 - (16 * report.Policies.Count);
        for (var i = 0; i < report.Policies.Count; i++)
        {
            svg.Rect(Left + PlotWidth - 170, legendY + (16 * i), 10, 10, colors[i]);
            svg.Text(Left + PlotWidth - 155, legendY + (16 * i) + 9, report.Policies[i].Name + (report.Policies[i].Curve is null ? "" : " (sweep)"), size: 11, cssClass: "policy");
        }

        return svg.Finish();
    }
}
