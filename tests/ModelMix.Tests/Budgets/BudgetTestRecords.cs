using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Budgets;

/// <summary>Ledger records and intents on Claude Haiku 4.5 for the budget store tests (the cost given, never priced by the code under test).</summary>
internal static class BudgetTestRecords
{
    /// <summary>An answered attempt of <paramref name="requestId"/> costing <paramref name="cost"/> (null: unpriced) with <paramref name="tokens"/> in and out.</summary>
    public static LedgerRecord Record(string requestId, decimal? cost, DateTimeOffset at, long tokens = 10, string? id = null) => new()
    {
        Id = id ?? Guid.NewGuid().ToString("N"),
        Timestamp = at,
        RequestId = requestId,
        RequestedModel = "claude-haiku-4-5",
        RoutedModel = "claude-haiku-4-5",
        Usage = new TokenUsage(tokens, tokens),
        Cost = cost is { } total ? new CostBreakdown(total, 0m, 0m, 0m, 0m) : null,
        HttpStatus = 200,
    };

    /// <summary>An attempt's intent journaled against <paramref name="reservationId"/> (a lease: its record is charged to it).</summary>
    public static LedgerIntent Intent(string requestId, string? reservationId, DateTimeOffset at) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        CreatedAt = at,
        RequestId = requestId,
        ReservationId = reservationId,
        RequestedModel = "claude-haiku-4-5",
        RoutedModel = "claude-haiku-4-5",
        OutputTokens = 1000,
    };
}
