using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Audit;

/// <summary>A seeded SQLite ledger whose totals are worked out by hand in the tests (prices: Haiku 4.5 $1/$5, Sonnet 4.6 $3/$15, Opus 4.6 $5/$25).</summary>
internal static class AuditLedger
{
    public static readonly DateTimeOffset Day1 = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset Day2 = Day1.AddDays(1);

    public static LedgerRecord Record(
        string id, DateTimeOffset at, string model, string? task, long input, long output, decimal? cost,
        string? key = null, string? session = null, string policy = "rules", int attempt = 1, string? escalatedFrom = null,
        string? request = null, long cacheRead = 0, ServiceTier tier = ServiceTier.Standard, string? reason = null) => new()
        {
            Id = id,
            Timestamp = at,
            RequestId = request ?? "req-" + id,
            SessionId = session,
            KeyId = key,
            TaskLabel = task,
            RequestedModel = policy == "passthrough" ? model : "auto",
            RoutedModel = model,
            Policy = policy,
            Reason = reason ?? $"{policy} chose {model}",
            Attempt = attempt,
            EscalatedFrom = escalatedFrom,
            Usage = new TokenUsage(input, output, CacheReadTokens: cacheRead, ServiceTier: tier),
            Cost = cost is { } c ? new CostBreakdown(c, 0m, 0m, 0m, 0m) : null,
            Status = cost is null ? LedgerStatus.Unpriced : LedgerStatus.Ok,
            HttpStatus = 200,
        };

    /// <summary>Eight records over two days; routing starts with r4 (day 2, 09:00).</summary>
    public static IReadOnlyList<LedgerRecord> Seed() =>
    [
        Record("r1", Day1.AddHours(10), "claude-sonnet-4-6", "summarize", 1000, 200, 0.006m, "k1", "s1", "passthrough"),
        Record("r2", Day1.AddHours(10).AddMinutes(1), "claude-sonnet-4-6", "summarize", 2000, 100, 0.0075m, "k1", "s1", "passthrough"),
        Record("r3", Day1.AddHours(11), "claude-opus-4-6", "classify", 1000, 100, 0.0075m, "k2", "s2", "passthrough"),
        Record("r4", Day2.AddHours(9), "claude-haiku-4-5", "classify", 1000, 100, 0.0025m, "k2", "s3", cacheRead: 10000),
        Record("r5", Day2.AddHours(9).AddMinutes(1), "claude-haiku-4-5", "classify", 1000, 100, 0.00075m, "k2", "s3", request: "q5", tier: ServiceTier.Batch),
        Record("r6", Day2.AddHours(9).AddMinutes(2), "claude-sonnet-4-6", "classify", 1000, 100, 0.0045m, "k2", "s3", "cascade", attempt: 2, escalatedFrom: "claude-haiku-4-5", request: "q5"),
        Record("r7", Day2.AddHours(10), "claude-opus-4-6", "fraud", 2000, 400, 0.02m, "k1", "s4"),
        Record("r8", Day2.AddHours(11), "mystery-model", "summarize", 50, 5, null),
    ];

    public static async Task<string> WriteAsync(string path, IReadOnlyList<LedgerRecord> records)
    {
        await using var store = new SqliteLedgerStore(path);
        await store.MigrateAsync();
        await store.WriteBatchAsync(records);
        return path;
    }
}
