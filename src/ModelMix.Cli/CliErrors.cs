using ModelMix.Pricing;

namespace ModelMix.Cli;

/// <summary>Error messages as the command line words them.</summary>
internal static class CliErrors
{
    /// <summary>The embedded price book's name as the command line words it: its flag, not the library's setting.</summary>
    public const string DefaultPricesHint = "prices.json (embedded default) — pass your own with --prices FILE";

    /// <summary>
    /// <paramref name="exception"/>'s message, with the library's advice to set <c>ModelMix:Prices</c> (the setting of
    /// the library and the proxy) turned into the command line's <c>--prices FILE</c>.
    /// </summary>
    public static string Message(Exception exception) =>
        exception.Message.Replace(PriceBook.DefaultSourceName, DefaultPricesHint, StringComparison.Ordinal);
}
