using System.CommandLine;
using System.Globalization;

namespace ModelMix.Cli;

/// <summary>Options several commands share, so they are spelled and documented once.</summary>
internal static class CommonOptions
{
    /// <summary>The store: a SQLite ledger file, or a PostgreSQL database (<c>--store</c> is the same option).</summary>
    public static Option<string> Db() => new("--db", "--store")
    {
        Description = "The store: a SQLite ledger file, or a PostgreSQL database shared by several proxies " +
            "(postgres://user:password@host:5432/db or Host=...;Database=...). Default: $ModelMix__Store, else modelmix.db.",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("ModelMix__Store") is { Length: > 0 } store ? store : "modelmix.db",
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

    /// <summary>
    /// An instant option (<c>--from</c>, <c>--to</c>, <c>--price-date</c>, <c>--at</c>): ISO 8601, parsed with the
    /// invariant culture; a date or time without an offset is UTC (price periods are UTC), never the machine's zone.
    /// </summary>
    public static Option<DateTimeOffset?> Instant(string name, string description) => new(name)
    {
        Description = description + " ISO 8601, e.g. 2026-03-01 or 2026-03-01T12:00:00Z; no offset means UTC.",
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowWhiteSpaces, out var value))
            {
                return value;
            }

            result.AddError($"{name}: '{text}' is not a date or time (use ISO 8601, e.g. 2026-03-01 or 2026-03-01T12:00:00Z).");
            return null;
        },
    };
}
