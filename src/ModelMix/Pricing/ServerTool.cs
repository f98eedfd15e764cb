namespace ModelMix.Pricing;

/// <summary>
/// A server tool whose uses the Messages API counts in <c>usage.server_tool_use</c>, so that a call's fee for it can be
/// priced from the call's own usage (the price book's <c>serverTools</c>, docs/pricing.md).
/// </summary>
public enum ServerTool
{
    /// <summary>The web search tool (<c>web_search_*</c>), counted in <c>server_tool_use.web_search_requests</c>.</summary>
    WebSearch,

    /// <summary>The web fetch tool (<c>web_fetch_*</c>), counted in <c>server_tool_use.web_fetch_requests</c>.</summary>
    WebFetch,
}

/// <summary>The wire names that go with each <see cref="ServerTool"/>.</summary>
public static class ServerToolUse
{
    /// <summary>Every tool, in declaration order.</summary>
    public static IReadOnlyList<ServerTool> All { get; } = [ServerTool.WebSearch, ServerTool.WebFetch];

    /// <summary>The <c>usage.server_tool_use</c> counters, in <see cref="All"/> order (also the price book's <c>serverTools</c> keys).</summary>
    public static IReadOnlyList<string> UsageFields { get; } = ["web_search_requests", "web_fetch_requests"];

    /// <summary>The <c>usage.server_tool_use</c> field that counts <paramref name="tool"/>'s uses.</summary>
    public static string UsageField(ServerTool tool) => UsageFields[Index(tool)];

    /// <summary>
    /// The prefix of the versioned tool <c>type</c> a request declares the tool with (<c>web_search_20260209</c> starts
    /// with <c>web_search_</c>).
    /// </summary>
    public static string ToolTypePrefix(ServerTool tool) => tool switch
    {
        ServerTool.WebSearch => "web_search_",
        ServerTool.WebFetch => "web_fetch_",
        _ => throw new ArgumentOutOfRangeException(nameof(tool), tool, "Unknown server tool."),
    };

    /// <summary>Maps a <c>usage.server_tool_use</c> field name to its tool.</summary>
    public static bool TryParseUsageField(string name, out ServerTool tool)
    {
        for (var i = 0; i < UsageFields.Count; i++)
        {
            if (string.Equals(UsageFields[i], name, StringComparison.Ordinal))
            {
                tool = All[i];
                return true;
            }
        }

        tool = default;
        return false;
    }

    /// <summary>How many uses of <paramref name="tool"/> <paramref name="usage"/> reports.</summary>
    public static long Count(in TokenUsage usage, ServerTool tool) => tool switch
    {
        ServerTool.WebSearch => usage.WebSearchRequests,
        ServerTool.WebFetch => usage.WebFetchRequests,
        _ => throw new ArgumentOutOfRangeException(nameof(tool), tool, "Unknown server tool."),
    };

    internal static int Index(ServerTool tool) => tool switch
    {
        ServerTool.WebSearch => 0,
        ServerTool.WebFetch => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(tool), tool, "Unknown server tool."),
    };
}

/// <summary>The price of one server tool's uses during one effective-dated period.</summary>
/// <param name="Tool">The tool.</param>
/// <param name="EffectiveFrom">First instant the period applies (inclusive).</param>
/// <param name="EffectiveTo">First instant it no longer applies (exclusive); null when open-ended.</param>
/// <param name="PerThousand">USD per 1,000 uses (0 when the tool bills only the tokens it adds).</param>
public sealed record ServerToolPrice(ServerTool Tool, DateTimeOffset EffectiveFrom, DateTimeOffset? EffectiveTo, decimal PerThousand)
{
    /// <summary>USD per use: <see cref="PerThousand"/> / 1,000, exact.</summary>
    public decimal PerUse { get; } = PerThousand / 1000m;

    /// <summary>Whether <paramref name="at"/> falls inside this period (from inclusive, to exclusive).</summary>
    /// <param name="at">The instant of the call.</param>
    public bool IsInForce(DateTimeOffset at) => at >= EffectiveFrom && (EffectiveTo is null || at < EffectiveTo.Value);
}

/// <summary>A server tool's entry in the price book: its periods and where they come from.</summary>
public sealed record ServerToolPriceEntry
{
    /// <summary>The tool.</summary>
    public required ServerTool Tool { get; init; }

    /// <summary>A human-readable name such as "Web search"; null when the file gives none.</summary>
    public string? DisplayName { get; init; }

    /// <summary>The public page the price was taken from; null for user entries that give none.</summary>
    public string? Source { get; init; }

    /// <summary>The price periods, ordered by <see cref="ServerToolPrice.EffectiveFrom"/>, never overlapping.</summary>
    public required IReadOnlyList<ServerToolPrice> Periods { get; init; }
}
