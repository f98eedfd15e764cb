using System.Globalization;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Shared;

/// <summary>
/// Realistic mixed ledger traffic for the rollup tests and the scale benchmark (bench/ledger-scale.sh): keys, task
/// labels, models, efforts, sessions, retries, escalations, routing calls, errors, unpriced calls, cache reads and
/// writes, batch, a data-residency geo, web searches, dropped thinking, hang-ups, latencies across every
/// histogram bucket. Deterministic for a seed. Costs are arbitrary exact decimals (the rollups sum what was recorded).
/// </summary>
internal static class LedgerTraffic
{
    private static readonly string[] Models = ["claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5", "claude-sonnet-4-6"];
    private static readonly string?[] Keys = ["key_a", "key_b", "key_c", null];
    private static readonly string?[] Tasks = ["classify", "summarize", "code", "chat", null];
    private static readonly string?[] Efforts = ["low", "medium", "high", null];
    private static readonly string?[] Policies = ["passthrough", "rules", "cascade", null];
    private static readonly long[] Latencies = [40, 180, 400, 900, 1_500, 4_000, 9_000, 20_000, 45_000, 100_000, 300_000];

    /// <summary><paramref name="count"/> records from <paramref name="start"/>, one every <paramref name="spacing"/>.</summary>
    public static LedgerRecord[] Generate(int count, int seed, DateTimeOffset start, TimeSpan spacing, string idPrefix = "t")
    {
        var random = new Random(seed);
        var records = new LedgerRecord[count];
        for (var i = 0; i < count; i++)
        {
            records[i] = One(random, i, start + (spacing * i), idPrefix);
        }

        return records;
    }

    /// <summary>One record; <paramref name="i"/> names it.</summary>
    public static LedgerRecord One(Random random, long i, DateTimeOffset at, string idPrefix)
    {
        // Correlated as real traffic is: a key keeps its policy and data-residency geo, a task its effort and model pair.
        var keyIndex = random.Next(Keys.Length);
        var taskIndex = random.Next(Tasks.Length);
        var model = Models[(taskIndex + random.Next(2)) % Models.Length];
        var roll = random.Next(100);
        var attempt = roll < 5 ? 0 : roll < 85 ? 1 : random.Next(2, 4);
        var escalated = attempt >= 2 && random.Next(2) == 0 ? Models[taskIndex % Models.Length] : null;
        var input = (long)random.Next(0, 5_000);
        var output = (long)random.Next(0, 2_000);
        var empty = random.Next(50) == 0; // an error that consumed nothing
        var tier = taskIndex == 1 && random.Next(3) == 0 ? ServiceTier.Batch : ServiceTier.Standard;
        var speed = Speed.Standard; // fast mode is priced on few models only
        var geo = keyIndex switch { 0 => "us", 1 => "global", _ => null };
        var usage = empty
            ? new TokenUsage(0, 0)
            : new TokenUsage(
                input, output,
                CacheWrite5mTokens: random.Next(4) == 0 ? random.Next(0, 3_000) : 0,
                CacheWrite1hTokens: random.Next(10) == 0 ? random.Next(0, 3_000) : 0,
                CacheReadTokens: random.Next(3) == 0 ? random.Next(0, 20_000) : 0,
                ServiceTier: tier, Speed: speed, InferenceGeo: geo,
                WebSearchRequests: random.Next(30) == 0 ? random.Next(1, 4) : 0);
        var unpriced = random.Next(25) == 0;
        var status = empty ? LedgerStatus.Error : unpriced ? LedgerStatus.Unpriced : LedgerStatus.Ok;
        CostBreakdown? cost = unpriced
            ? null
            : new CostBreakdown(
                Money(random, 6), Money(random, 7), Money(random, 8), Money(random, 6), Money(random, 9),
                usage.WebSearchRequests * 0.01m);
        var session = random.Next(3) == 0 ? null : "s-" + random.Next(0, 200).ToString(CultureInfo.InvariantCulture);
        return new LedgerRecord
        {
            Id = idPrefix + "-" + i.ToString("D10", CultureInfo.InvariantCulture),
            Timestamp = at,
            RequestId = "req-" + (i / 2).ToString(CultureInfo.InvariantCulture),
            SessionId = session,
            KeyId = Keys[keyIndex],
            TaskLabel = Tasks[taskIndex],
            RequestedModel = "claude-sonnet-4-5",
            RoutedModel = model,
            ResponseModel = empty ? null : model + "-20250929",
            Policy = Policies[keyIndex % Policies.Length],
            Reason = "because",
            Attempt = attempt,
            EscalatedFrom = escalated,
            Usage = usage,
            Cost = cost,
            LatencyMs = Latencies[random.Next(Latencies.Length)] + random.Next(0, 3),
            Streaming = random.Next(2) == 0,
            Status = status,
            HttpStatus = empty ? 529 : 200,
            ErrorType = empty ? "overloaded_error" : null,
            Effort = Efforts[taskIndex % Efforts.Length],
            EffortIsDefault = random.Next(4) == 0,
            ThinkingBlocksDropped = random.Next(40) == 0 ? random.Next(1, 3) : 0,
            ClientDisconnected = random.Next(30) == 0,
            UsageEstimated = random.Next(60) == 0,

            // Now and then a priced call's overrun beyond its key's cap (charged to no key); from i alone, so the
            // random draws (and every other field) stay what they were.
            OverrunUsd = cost is not null && i % 37 == 5 ? 0.000001m * (1 + (i % 11)) : null,
        };
    }

    /// <summary>An exact amount with up to <paramref name="scale"/> decimals, e.g. 0.0012345.</summary>
    private static decimal Money(Random random, byte scale) => new(random.Next(0, 5_000_000), 0, 0, false, scale);
}

/// <summary>
/// The rollups recomputed in C# from raw records, independently of the SQL that maintains them, and a canonical text
/// of rollup rows, so tests compare the stored rollups with what the raw rows say, row by row and to the last digit.
/// </summary>
internal static class LedgerRollupOracle
{
    /// <summary>The canonical lines of the rollups of <paramref name="records"/> (hourly, or daily when <paramref name="daily"/>), sorted.</summary>
    public static List<string> Expected(IEnumerable<LedgerRecord> records, bool daily = false)
    {
        var bounds = LedgerRollup.LatencyBucketBoundsMs;
        var span = daily ? TimeSpan.TicksPerDay : TimeSpan.TicksPerHour;
        return records
            .GroupBy(r => (
                Hour: new DateTimeOffset(r.Timestamp.UtcTicks - (r.Timestamp.UtcTicks % span), TimeSpan.Zero),
                r.KeyId, r.TaskLabel, r.Policy, r.RoutedModel, r.ResponseModel, r.Effort, r.Status,
                Kind: r.Attempt == 0 ? 0 : r.Attempt == 1 ? 1 : 2, r.EscalatedFrom, r.Usage.ServiceTier, r.Usage.Speed,
                r.Usage.InferenceGeo, Priced: r.Cost is not null,
                HasTokens: r.Usage.OutputTokens != 0 || r.Usage.TotalInputTokens != 0,
                EffortSent: !r.EffortIsDefault && r.Effort is { Length: > 0 }))
            .Select(g =>
            {
                var k = g.Key;
                var cost = g.Aggregate(CostBreakdown.Zero, (sum, r) => sum + (r.Cost ?? CostBreakdown.Zero));
                var buckets = new long[bounds.Count + 1];
                foreach (var r in g)
                {
                    var b = 0;
                    while (b < bounds.Count && r.LatencyMs > bounds[b])
                    {
                        b++;
                    }

                    buckets[b]++;
                }

                return Line(
                    k.Hour, k.KeyId, k.TaskLabel, k.Policy, k.RoutedModel, k.ResponseModel, k.Effort, k.Status, k.Kind, k.EscalatedFrom,
                    k.ServiceTier, k.Speed, k.InferenceGeo, k.Priced, k.HasTokens, k.EffortSent,
                    g.LongCount(), g.LongCount(r => r.EffortIsDefault),
                    g.Sum(r => r.Usage.InputTokens), g.Sum(r => r.Usage.OutputTokens), g.Sum(r => r.Usage.CacheWrite5mTokens),
                    g.Sum(r => r.Usage.CacheWrite1hTokens), g.Sum(r => r.Usage.CacheReadTokens), g.Sum(r => r.Usage.WebSearchRequests),
                    g.Sum(r => r.Usage.WebFetchRequests), g.LongCount(r => r.Usage.CacheReadTokens > 0),
                    g.Sum(r => (long)r.ThinkingBlocksDropped), g.LongCount(r => r.ThinkingBlocksDropped > 0),
                    g.Where(r => r.ThinkingBlocksDropped > 0).Sum(r => r.Cost?.Total ?? 0m),
                    g.LongCount(r => r.ClientDisconnected), g.Where(r => r.ClientDisconnected).Sum(r => r.Cost?.Total ?? 0m),
                    g.LongCount(r => r.UsageEstimated), g.LongCount(r => r.Streaming), g.Sum(r => r.LatencyMs), buckets, cost,
                    g.Min(r => r.Timestamp), g.Max(r => r.Timestamp), g.Min(r => r.Usage.TotalInputTokens),
                    g.Max(r => r.Usage.TotalInputTokens), g.Max(r => r.Usage.OutputTokens), g.Sum(r => r.OverrunUsd ?? 0m));
            })
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The canonical lines of stored rollup rows, sorted.</summary>
    public static List<string> Describe(IEnumerable<LedgerRollup> rollups) =>
        rollups.Select(u => Line(
                u.Hour, u.KeyId, u.TaskLabel, u.Policy, u.RoutedModel, u.ResponseModel, u.Effort, u.Status, u.AttemptKind, u.EscalatedFrom,
                u.ServiceTier, u.Speed, u.InferenceGeo, u.Priced, u.HasTokens, u.EffortSent, u.Calls, u.EffortDefaultCalls,
                u.Usage.InputTokens, u.Usage.OutputTokens, u.Usage.CacheWrite5mTokens, u.Usage.CacheWrite1hTokens, u.Usage.CacheReadTokens,
                u.Usage.WebSearchRequests, u.Usage.WebFetchRequests, u.CacheReadCalls, u.ThinkingBlocksDropped, u.ThinkingDroppedCalls,
                u.ThinkingDroppedCost, u.DisconnectedCalls, u.DisconnectedCost, u.EstimatedCalls, u.StreamingCalls, u.LatencyMsSum,
                u.LatencyBuckets, u.Cost, u.FirstTimestamp, u.LastTimestamp, u.MinPromptTokens, u.MaxPromptTokens, u.MaxOutputTokens, u.OverrunUsd))
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>Every daily rollup row of a store.</summary>
    public static async Task<List<LedgerRollup>> ReadAllDailyAsync(ILedgerRollupStore store)
    {
        var rows = new List<LedgerRollup>();
        await foreach (var row in store.ReadDailyRollupsAsync(null, null))
        {
            rows.Add(row);
        }

        return rows;
    }

    /// <summary>
    /// Every hourly rollup row of a store; and, on the way, checks that the store's daily rows are its hourly rows
    /// summed per UTC day and group (so every test comparing the hourly rows with raw rows covers the daily ones too).
    /// </summary>
    public static async Task<List<LedgerRollup>> ReadAllAsync(ILedgerRollupStore store)
    {
        var rows = new List<LedgerRollup>();
        await foreach (var row in store.ReadRollupsAsync(null, null))
        {
            rows.Add(row);
        }

#if !LEDGER_SCALE // bench/LedgerScale compiles this file without the test frameworks
        var days = rows
            .GroupBy(row => row.Hour.UtcDateTime.Date)
            .SelectMany(day => ModelMix.Audit.AuditRollupSpans.Merge([.. day]).Select(merged => merged with { Hour = new DateTimeOffset(day.Key, TimeSpan.Zero) }));
        Xunit.Assert.Equal(Describe(days), Describe(await ReadAllDailyAsync(store)));
#endif
        return rows;
    }

    private static string Line(params object?[] values) =>
        string.Join(" | ", values.Select(v => v switch
        {
            null => "-",
            decimal d => Exact(d),
            CostBreakdown c => string.Join(",", new[] { c.Input, c.Output, c.CacheWrite5m, c.CacheWrite1h, c.CacheRead, c.ServerTools, c.Total }.Select(Exact)),
            DateTimeOffset t => t.UtcTicks.ToString(CultureInfo.InvariantCulture),
            IEnumerable<long> list => string.Join(",", list),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => v.ToString(),
        }));

    private static string Exact(decimal d) => (d / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);
}
