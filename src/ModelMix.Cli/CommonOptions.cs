using System.CommandLine;

namespace ModelMix.Cli;

/// <summary>Options several commands share, so they are spelled and documented once.</summary>
internal static class CommonOptions
{
    /// <summary>The SQLite ledger file.</summary>
    public static Option<string> Db() => new("--db")
    {
        Description = "The SQLite ledger file.",
        DefaultValueFactory = _ => "modelmix.db",
    };

    /// <summary>A price book file that overlays the embedded defaults.</summary>
    public static Option<string?> Prices() => new("--prices")
    {
        Description = "A price book JSON file that overlays the embedded defaults (see docs/pricing.md).",
    };

    /// <summary>Output format.</summary>
    public static Option<string> Format() => new Option<string>("--format")
    {
        Description = "Output format: table or json.",
        DefaultValueFactory = _ => "table",
    }.AcceptOnlyFromAmong("table", "json");
}
