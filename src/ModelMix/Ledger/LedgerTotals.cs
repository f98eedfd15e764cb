using ModelMix.Pricing;

namespace ModelMix.Ledger;

/// <summary>
/// Aggregates over the records a <see cref="LedgerQuery"/> selects: how many, tokens by class, and the exact cost by
/// component. Unpriced records count and contribute tokens but no cost; <see cref="UnpricedCount"/> says how many.
/// </summary>
public sealed record LedgerTotals
{
    /// <summary>Totals of an empty selection.</summary>
    public static LedgerTotals Empty { get; } = new();

    /// <summary>Number of records selected.</summary>
    public long Count { get; init; }

    /// <summary>Number of selected records without a cost (<see cref="LedgerRecord.Cost"/> is <c>null</c>).</summary>
    public long UnpricedCount { get; init; }

    /// <summary>Sum of uncached input tokens.</summary>
    public long InputTokens { get; init; }

    /// <summary>Sum of output tokens.</summary>
    public long OutputTokens { get; init; }

    /// <summary>Sum of tokens written to the 5-minute cache.</summary>
    public long CacheWrite5mTokens { get; init; }

    /// <summary>Sum of tokens written to the 1-hour cache.</summary>
    public long CacheWrite1hTokens { get; init; }

    /// <summary>Sum of tokens read from the cache.</summary>
    public long CacheReadTokens { get; init; }

    /// <summary>Sum of web searches the API ran (<c>usage.server_tool_use.web_search_requests</c>).</summary>
    public long WebSearchRequests { get; init; }

    /// <summary>Sum of web fetches the API ran (<c>usage.server_tool_use.web_fetch_requests</c>).</summary>
    public long WebFetchRequests { get; init; }

    /// <summary>Exact sum of the cost of the priced records, component by component, in USD.</summary>
    public CostBreakdown Cost { get; init; }

    /// <summary>Exact total cost of the priced records in USD (the sum of every component of <see cref="Cost"/>).</summary>
    public decimal TotalCost => Cost.Total;
}
