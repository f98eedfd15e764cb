using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Spectre.Console;

namespace ModelMix.Cli;

/// <summary>Console output helpers: a Spectre console over the invocation's writer, money formatting, JSON.</summary>
internal static class Output
{
    /// <summary>JSON settings for <c>--format json</c>: snake_case, indented, exact decimals as numbers.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>A Spectre console writing to <paramref name="writer"/>.</summary>
    public static IAnsiConsole Console(TextWriter writer) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(writer),
        Ansi = AnsiSupport.Detect,
        ColorSystem = ColorSystemSupport.Detect,
    });

    /// <summary>Dollars for people: cents for large sums, more digits for small ones, never rounded to zero.</summary>
    public static string Usd(decimal value)
    {
        var magnitude = Math.Abs(value);
        var format = magnitude >= 100m ? "N2" : magnitude >= 1m ? "N4" : "0.######";
        var text = value.ToString(format, CultureInfo.InvariantCulture);
        if (value != 0m && decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture) == 0m)
        {
            text = value.ToString(CultureInfo.InvariantCulture);
        }

        return "$" + text;
    }

    /// <summary>A signed percentage of a fraction, e.g. <c>-62.5%</c>.</summary>
    public static string Percent(decimal fraction) => (fraction * 100m).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + "%";
}
