using System.Data.Common;
using ModelMix.Pricing;

namespace ModelMix.Ledger;

/// <summary>
/// The ledger totals both store backends compute (<see cref="ILedgerStore.GetTotalsAsync"/>): the columns a totals query
/// reads and the mapping of its one row; each backend writes only its own SQL for the sums (how it adds money exactly).
/// </summary>
internal static class LedgerTotalsRow
{
    /// <summary>The columns the totals read, for the backend's <c>FROM</c> clause.</summary>
    public const string Columns =
        "input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, " +
        "cache_read_tokens, cost_input, cost_output, cost_cache_write_5m, cost_cache_write_1h, cost_cache_read, " +
        "web_search_requests, web_fetch_requests, cost_server_tools";

    /// <summary>
    /// Maps the totals row: <c>COUNT(*)</c>, the unpriced count, the five token sums, the five cost sums (input, output,
    /// 5-minute and 1-hour cache writes, cache reads), the web search and fetch counts, then the server-tool cost.
    /// </summary>
    /// <param name="r">A reader on the totals row.</param>
    /// <param name="money">Reads a money sum as the backend stores it.</param>
    public static LedgerTotals Read<TReader>(TReader r, Func<TReader, int, decimal> money)
        where TReader : DbDataReader => new()
    {
        Count = r.GetInt64(0),
        UnpricedCount = r.GetInt64(1),
        InputTokens = r.GetInt64(2),
        OutputTokens = r.GetInt64(3),
        CacheWrite5mTokens = r.GetInt64(4),
        CacheWrite1hTokens = r.GetInt64(5),
        CacheReadTokens = r.GetInt64(6),
        WebSearchRequests = r.GetInt64(12),
        WebFetchRequests = r.GetInt64(13),
        Cost = new CostBreakdown(money(r, 7), money(r, 8), money(r, 9), money(r, 10), money(r, 11), money(r, 14)),
    };
}
