using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace ModelMix.Cli;

/// <summary>Console output helpers: a Spectre console over the invocation's writer, money formatting, JSON.</summary>
internal static class Output
{
    /// <summary>
    /// JSON settings for <c>--format json</c>: snake_case, indented, exact decimals as numbers without trailing zeros
    /// (<c>4.5</c>, not <c>4.5000000</c>, whatever scale the arithmetic left).
    /// </summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new NormalizedDecimalConverter() },
    };

    /// <summary>Width for output that is not a terminal (a pipe, a file, a test): wide enough that ids never wrap.</summary>
    public const int RedirectedWidth = 200;

    /// <summary>A Spectre console writing to <paramref name="writer"/>.</summary>
    /// <remarks>
    /// Output that is not the interactive console (a pipe, a file, a captured writer) gets plain text, with no ANSI
    /// escapes (Spectre's detection looks at the environment, not at the writer), and <see cref="RedirectedWidth"/>
    /// columns instead of Spectre's 80, which cut model ids mid-word.
    /// </remarks>
    public static IAnsiConsole Console(TextWriter writer)
    {
        var interactive = ReferenceEquals(writer, System.Console.Out) && !System.Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        if (!interactive)
        {
            console.Profile.Width = RedirectedWidth;
        }

        return console;
    }

    /// <summary>
    /// Text from the ledger (task labels, session ids, model names: what callers sent) made safe to print on a terminal:
    /// control characters (C0, DEL, C1 — the escape sequences a terminal obeys) and bidirectional-override characters
    /// (which reorder what the operator sees) become visible escapes, <c>\x1B</c> or <c>\u202E</c>. Everything else
    /// is left as it is.
    /// </summary>
    public static string Printable(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.AsSpan().ContainsAny(Unprintable))
        {
            return text;
        }

        var printable = new System.Text.StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (!Unprintable.Contains(c))
            {
                printable.Append(c);
            }
            else if (c <= '\u00FF')
            {
                printable.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}");
            }
            else
            {
                printable.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
        }

        return printable.ToString();
    }

    /// <summary>C0 controls, DEL, C1 controls, and the bidirectional marks, embeddings, overrides and isolates.</summary>
    private static readonly System.Buffers.SearchValues<char> Unprintable = System.Buffers.SearchValues.Create(
        [.. Enumerable.Range(0, 0x20).Select(i => (char)i), .. Enumerable.Range(0x7F, 0x21).Select(i => (char)i),
         '\u061C', '\u200E', '\u200F', '\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069']);

    /// <summary>Dollars for people: cents for large sums, more digits for small ones, never rounded to zero.</summary>
    public static string Usd(decimal value)
    {
        var magnitude = Math.Abs(value);
        var format = magnitude >= 100m ? "N2" : magnitude >= 1m ? "N4" : "0.######";
        var text = magnitude.ToString(format, CultureInfo.InvariantCulture);
        if (magnitude != 0m && decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture) == 0m)
        {
            text = Normalize(magnitude).ToString(CultureInfo.InvariantCulture);
        }

        return (value < 0m ? "-$" : "$") + text;
    }

    /// <summary>A signed percentage of a fraction, e.g. <c>-62.5%</c>.</summary>
    public static string Percent(decimal fraction) => (fraction * 100m).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + "%";

    /// <summary>The same value with no trailing zeros in its scale (<c>4.5000000m</c> → <c>4.5m</c>).</summary>
    public static decimal Normalize(decimal value) => value / 1.000000000000000000000000000000000m;

    /// <summary>Writes decimals normalized, so equal amounts always print the same.</summary>
    private sealed class NormalizedDecimalConverter : JsonConverter<decimal>
    {
        public override decimal Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDecimal();

        public override void Write(Utf8JsonWriter writer, decimal value, JsonSerializerOptions options) => writer.WriteNumberValue(Normalize(value));
    }
}
