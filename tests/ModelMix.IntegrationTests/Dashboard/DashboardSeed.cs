using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.IntegrationTests.Dashboard;

/// <summary>
/// Three records in the dashboard's window (two and one days ago), with hostile text in a task label and a reason.
/// Prices: Sonnet 4.6 $3/$15, Haiku 4.5 $1/$5, Opus 4.6 $5/$25 per million tokens.
/// </summary>
internal static class DashboardSeed
{
    public const string HostileTask = "<script>window.__xss=1</script>";
    public const string HostileReason = "<img src=x onerror=\"window.__xss=2\"> & more";

    public static DateTimeOffset Today => new(DateTime.UtcNow.Date, TimeSpan.Zero);

    public static string Day(int daysAgo) => Today.AddDays(-daysAgo).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    public static async Task WriteAsync(string path)
    {
        await using var store = new SqliteLedgerStore(path);
        await store.MigrateAsync();
        await store.WriteBatchAsync(
        [
            Record("a", Today.AddDays(-2).AddHours(10), "claude-sonnet-4-6", "summarize", 1000, 200, 0.006m, "passthrough", "the caller named a model"),
            Record("b", Today.AddDays(-1).AddHours(9), "claude-haiku-4-5", HostileTask, 1000, 100, 0.0015m, "rules", HostileReason),
            Record("c", Today.AddDays(-1).AddHours(10), "claude-opus-4-6", "fraud", 2000, 400, 0.02m, "pin", "pin 'fraud' → opus"),
        ]);
    }

    private static LedgerRecord Record(string id, DateTimeOffset at, string model, string task, long input, long output, decimal cost, string policy, string reason) => new()
    {
        Id = "dash-" + id,
        Timestamp = at,
        RequestId = "req-" + id,
        TaskLabel = task,
        KeyId = "key-" + id,
        SessionId = "s-" + id,
        RequestedModel = policy == "passthrough" ? model : "auto",
        RoutedModel = model,
        Policy = policy,
        Reason = reason,
        Usage = new TokenUsage(input, output),
        Cost = new CostBreakdown(cost, 0m, 0m, 0m, 0m),
        HttpStatus = 200,
    };
}
