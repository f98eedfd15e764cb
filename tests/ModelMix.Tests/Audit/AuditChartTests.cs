using System.Xml.Linq;
using ModelMix.Audit;
using ModelMix.Cli;

namespace ModelMix.Tests.Audit;

public sealed class AuditChartTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Fact]
    public void Bars_stack_each_days_models_in_proportion_on_an_axis_rounded_up_to_1_2_or_5()
    {
        // Day 1: $3 on a, $1 on b (a $4 stack); day 2: $2 on b. The axis ends at $5, the plot is 360 px high
        // (500 - 80 top - 60 bottom), so $1 is 72 px: a on day 1 is 216 px, b on day 1 72 px, b on day 2 144 px.
        var report = new AuditReport
        {
            Cache = null!, // not drawn
            Batch = null!,
            Escalations = null!,
            TotalUsd = 6m,
            ByModel = [new AuditBucket("a", 1, 3m, 0), new AuditBucket("b", 2, 3m, 0)],
            ByDayAndModel = new Dictionary<string, IReadOnlyDictionary<string, decimal>>
            {
                ["2026-12-01"] = new Dictionary<string, decimal> { ["a"] = 3m, ["b"] = 1m },
                ["2026-12-02"] = new Dictionary<string, decimal> { ["b"] = 2m },
            },
        };

        var svg = XDocument.Parse(AuditChart.Render(report));

        var bars = svg.Descendants(Svg + "rect").Where(rect => rect.Attribute("data-usd") is not null)
            .ToDictionary(rect => (rect.Attribute("data-day")!.Value, rect.Attribute("data-model")!.Value), rect => (Y: (double)rect.Attribute("y")!, Height: (double)rect.Attribute("height")!));
        Assert.Equal(3, bars.Count);
        Assert.Equal(216, bars[("2026-12-01", "a")].Height, 2);
        Assert.Equal(72, bars[("2026-12-01", "b")].Height, 2);
        Assert.Equal(144, bars[("2026-12-02", "b")].Height, 2);
        // b sits on top of a: its bottom edge is a's top edge (y grows downwards; the plot's floor is at 80 + 360 = 440).
        Assert.Equal(440 - 216, bars[("2026-12-01", "a")].Y, 2);
        Assert.Equal(bars[("2026-12-01", "a")].Y, bars[("2026-12-01", "b")].Y + bars[("2026-12-01", "b")].Height, 2);
        Assert.Contains(svg.Descendants(Svg + "text"), text => text.Value == "$5");
        Assert.Equal("Spend per day by model — total $6.00", svg.Descendants(Svg + "text").Single(text => (string?)text.Attribute("class") == "title").Value);
    }

    [Fact]
    public void Model_names_are_text_never_markup()
    {
        const string Hostile = "<script>alert(1)</script>&\"'";
        var report = new AuditReport
        {
            Cache = null!, // not drawn
            Batch = null!,
            Escalations = null!,
            TotalUsd = 1m,
            ByModel = [new AuditBucket(Hostile, 1, 1m, 0)],
            ByDayAndModel = new Dictionary<string, IReadOnlyDictionary<string, decimal>> { ["2026-12-01"] = new Dictionary<string, decimal> { [Hostile] = 1m } },
        };

        var rendered = AuditChart.Render(report);
        var svg = XDocument.Parse(rendered);

        Assert.DoesNotContain("<script", rendered, StringComparison.Ordinal);
        Assert.Empty(svg.Descendants(Svg + "script"));
        Assert.Equal(Hostile, svg.Descendants(Svg + "text").Single(text => (string?)text.Attribute("class") == "legend").Value);
    }

    [Theory]
    [InlineData("0", "1")]
    [InlineData("0.0275", "0.05")]
    [InlineData("4", "5")]
    [InlineData("5", "5")]
    [InlineData("5.01", "10")]
    [InlineData("123", "200")]
    [InlineData("0.3", "0.5")]
    public void The_axis_ends_at_the_next_1_2_or_5(string highest, string end) =>
        Assert.Equal(decimal.Parse(end, System.Globalization.CultureInfo.InvariantCulture), SvgCanvas.NiceCeiling(decimal.Parse(highest, System.Globalization.CultureInfo.InvariantCulture)));
}
