using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Ledger;

/// <summary>Builds realistic ledger records for tests.</summary>
internal static class LedgerRecords
{
    public static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    public static LedgerRecord Simple(int i, decimal inputCost = 0.0000011m, string? id = null) => new()
    {
        Id = id ?? $"rec-{i:D8}",
        Timestamp = Start.AddMilliseconds(i),
        RequestId = $"req-{i / 2}",
        RequestedModel = "claude-sonnet-4-5",
        RoutedModel = "claude-haiku-4-5",
        Usage = new TokenUsage(InputTokens: 11, OutputTokens: 3, CacheReadTokens: 5),
        Cost = new CostBreakdown(inputCost, 0m, 0m, 0m, 0m),
        LatencyMs = 42,
        HttpStatus = 200,
    };

    public static IReadOnlyList<LedgerRecord> Many(int count, int offset = 0) =>
        Enumerable.Range(offset, count).Select(i => Simple(i)).ToArray();
}
