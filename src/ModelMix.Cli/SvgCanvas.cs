using System.Globalization;
using System.Text;
using System.Xml;

namespace ModelMix.Cli;

/// <summary>
/// The few SVG shapes the CLI's charts draw (<c>audit --chart</c>, <c>eval --out</c>), written as XML text: no drawing
/// library, no per-platform native code in the tool. Text content and attributes are escaped by <see cref="XmlWriter"/>:
/// model names, task labels and dataset names are caller text, never markup.
/// </summary>
internal sealed class SvgCanvas : IDisposable
{
    /// <summary>Category10, the palette the charts used when they were PNGs.</summary>
    public static readonly IReadOnlyList<string> Palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    private readonly StringBuilder _text = new();
    private readonly XmlWriter _xml;
    private bool _closed;

    public SvgCanvas(int width, int height)
    {
        _xml = XmlWriter.Create(_text, new XmlWriterSettings { Indent = true, OmitXmlDeclaration = true });
        _xml.WriteStartElement("svg", "http://www.w3.org/2000/svg");
        Attributes(("width", width), ("height", height), ("viewBox", FormattableString.Invariant($"0 0 {width} {height}")), ("font-family", "sans-serif"), ("font-size", "12"));
        Rect(0, 0, width, height, "white");
    }

    /// <summary>A filled rectangle; <paramref name="tooltip"/> becomes its <c>title</c>, <paramref name="data"/> <c>data-*</c> attributes.</summary>
    public void Rect(double x, double y, double width, double height, string fill, string? tooltip = null, params (string Name, string Value)[] data)
    {
        _xml.WriteStartElement("rect");
        Attributes(("x", x), ("y", y), ("width", width), ("height", height), ("fill", fill));
        foreach (var (name, value) in data)
        {
            _xml.WriteAttributeString("data-" + name, value);
        }

        if (tooltip is not null)
        {
            _xml.WriteElementString("title", tooltip);
        }

        _xml.WriteEndElement();
    }

    public void Line(double x1, double y1, double x2, double y2, string stroke)
    {
        _xml.WriteStartElement("line");
        Attributes(("x1", x1), ("y1", y1), ("x2", x2), ("y2", y2), ("stroke", stroke));
        _xml.WriteEndElement();
    }

    /// <summary>A line through <paramref name="points"/>.</summary>
    public void Polyline(IEnumerable<(double X, double Y)> points, string stroke, double width, string? cssClass = null)
    {
        _xml.WriteStartElement("polyline");
        Attributes(("points", string.Join(' ', points.Select(p => FormattableString.Invariant($"{p.X:0.##},{p.Y:0.##}")))), ("fill", "none"), ("stroke", stroke), ("stroke-width", width));
        if (cssClass is not null)
        {
            _xml.WriteAttributeString("class", cssClass);
        }

        _xml.WriteEndElement();
    }

    public void Circle(double x, double y, double radius, string fill, string? tooltip = null)
    {
        _xml.WriteStartElement("circle");
        Attributes(("cx", x), ("cy", y), ("r", radius), ("fill", fill));
        if (tooltip is not null)
        {
            _xml.WriteElementString("title", tooltip);
        }

        _xml.WriteEndElement();
    }

    /// <summary>Text anchored at (<paramref name="x"/>, <paramref name="y"/>): <c>start</c>, <c>middle</c> or <c>end</c>.</summary>
    public void Text(double x, double y, string content, string anchor = "start", int? size = null, string? cssClass = null, bool vertical = false)
    {
        _xml.WriteStartElement("text");
        Attributes(("x", x), ("y", y), ("text-anchor", anchor));
        if (size is { } points)
        {
            Attributes(("font-size", points));
        }

        if (cssClass is not null)
        {
            _xml.WriteAttributeString("class", cssClass);
        }

        if (vertical)
        {
            _xml.WriteAttributeString("transform", FormattableString.Invariant($"rotate(-90 {x:0.##} {y:0.##})"));
        }

        _xml.WriteString(content);
        _xml.WriteEndElement();
    }

    /// <summary>Closes the document and returns it.</summary>
    public string Finish()
    {
        if (!_closed)
        {
            _xml.WriteEndElement();
            _xml.Flush();
            _closed = true;
        }

        return _text.ToString();
    }

    public void Dispose() => _xml.Dispose();

    /// <summary>The smallest 1, 2 or 5 × 10ⁿ at or above <paramref name="value"/> (an axis' end); 1 when it is 0 or less.</summary>
    public static decimal NiceCeiling(decimal value)
    {
        if (value <= 0)
        {
            return 1m;
        }

        var step = 1m;
        while (step > value)
        {
            step /= 10;
        }

        while (step * 10 <= value)
        {
            step *= 10;
        }

        foreach (var factor in new[] { 1m, 2m, 5m })
        {
            if (step * factor >= value)
            {
                return step * factor;
            }
        }

        return step * 10;
    }

    /// <summary>Writes <paramref name="svg"/> to <paramref name="path"/> (UTF-8, no byte-order mark).</summary>
    public static void Save(string path, string svg) => File.WriteAllText(path, svg, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));

    private void Attributes(params (string Name, object Value)[] attributes)
    {
        foreach (var (name, value) in attributes)
        {
            _xml.WriteAttributeString(name, value switch
            {
                double number => number.ToString("0.##", CultureInfo.InvariantCulture),
                int number => number.ToString(CultureInfo.InvariantCulture),
                _ => Convert.ToString(value, CultureInfo.InvariantCulture),
            });
        }
    }
}
