using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Audit;

/// <summary>
/// Sums the hourly rollup rows of a span of hours (one UTC day) that share every dimension but the hour into one row per
/// group, so the audit prices and reprices about a day's distinct groups instead of every hour's (at 10M calls a month,
/// 15,000 rows for a 14-day dashboard instead of 211,000). The audit adds the summed rows only when
/// <see cref="AuditAccumulator.CanAddRollupSpan"/> accepts
/// them over the whole span (no price change inside it, no summed row straddling a long-context threshold, every target
/// fitting all of a row's calls or none): then each hour's rows would have been accepted too, and every figure is a sum
/// of the same exact terms. Otherwise the span's hours are audited one by one, as before.
/// </summary>
internal static class AuditRollupSpans
{
    /// <summary>The rows of <paramref name="rows"/> summed per group (every dimension but the hour), in first-seen order.</summary>
    public static List<LedgerRollup> Merge(IReadOnlyList<LedgerRollup> rows)
    {
        var groups = new Dictionary<GroupKey, int>();
        var merged = new List<LedgerRollup>();
        foreach (var row in rows)
        {
            var key = new GroupKey(
                row.KeyId, row.TaskLabel, row.Policy, row.RoutedModel, row.ResponseModel, row.Effort, row.Status, row.AttemptKind,
                row.EscalatedFrom, row.ServiceTier, row.Speed, row.InferenceGeo, row.Priced, row.HasTokens, row.EffortSent);
            if (groups.TryGetValue(key, out var at))
            {
                merged[at] = Add(merged[at], row);
            }
            else
            {
                groups[key] = merged.Count;
                merged.Add(row);
            }
        }

        return merged;
    }

    private static LedgerRollup Add(LedgerRollup a, LedgerRollup b)
    {
        var buckets = new long[Math.Max(a.LatencyBuckets.Count, b.LatencyBuckets.Count)];
        for (var i = 0; i < buckets.Length; i++)
        {
            buckets[i] = (i < a.LatencyBuckets.Count ? a.LatencyBuckets[i] : 0) + (i < b.LatencyBuckets.Count ? b.LatencyBuckets[i] : 0);
        }

        TokenUsage u = a.Usage, v = b.Usage;
        CostBreakdown c = a.Cost, d = b.Cost;
        return a with
        {
            Hour = a.Hour < b.Hour ? a.Hour : b.Hour,
            Calls = a.Calls + b.Calls,
            EffortDefaultCalls = a.EffortDefaultCalls + b.EffortDefaultCalls,
            Usage = u with
            {
                InputTokens = u.InputTokens + v.InputTokens,
                OutputTokens = u.OutputTokens + v.OutputTokens,
                CacheWrite5mTokens = u.CacheWrite5mTokens + v.CacheWrite5mTokens,
                CacheWrite1hTokens = u.CacheWrite1hTokens + v.CacheWrite1hTokens,
                CacheReadTokens = u.CacheReadTokens + v.CacheReadTokens,
                WebSearchRequests = u.WebSearchRequests + v.WebSearchRequests,
                WebFetchRequests = u.WebFetchRequests + v.WebFetchRequests,
            },
            CacheReadCalls = a.CacheReadCalls + b.CacheReadCalls,
            ThinkingBlocksDropped = a.ThinkingBlocksDropped + b.ThinkingBlocksDropped,
            ThinkingDroppedCalls = a.ThinkingDroppedCalls + b.ThinkingDroppedCalls,
            ThinkingDroppedCost = a.ThinkingDroppedCost + b.ThinkingDroppedCost,
            DisconnectedCalls = a.DisconnectedCalls + b.DisconnectedCalls,
            DisconnectedCost = a.DisconnectedCost + b.DisconnectedCost,
            EstimatedCalls = a.EstimatedCalls + b.EstimatedCalls,
            StreamingCalls = a.StreamingCalls + b.StreamingCalls,
            LatencyMsSum = a.LatencyMsSum + b.LatencyMsSum,
            LatencyBuckets = buckets,
            Cost = new CostBreakdown(
                c.Input + d.Input, c.Output + d.Output, c.CacheWrite5m + d.CacheWrite5m, c.CacheWrite1h + d.CacheWrite1h,
                c.CacheRead + d.CacheRead, c.ServerTools + d.ServerTools),
            FirstTimestamp = a.FirstTimestamp < b.FirstTimestamp ? a.FirstTimestamp : b.FirstTimestamp,
            LastTimestamp = a.LastTimestamp > b.LastTimestamp ? a.LastTimestamp : b.LastTimestamp,
            MinPromptTokens = Math.Min(a.MinPromptTokens, b.MinPromptTokens),
            MaxPromptTokens = Math.Max(a.MaxPromptTokens, b.MaxPromptTokens),
            MaxOutputTokens = Math.Max(a.MaxOutputTokens, b.MaxOutputTokens),
            OverrunUsd = a.OverrunUsd + b.OverrunUsd,
        };
    }

    private readonly record struct GroupKey(
        string? KeyId, string? TaskLabel, string? Policy, string RoutedModel, string? ResponseModel, string? Effort, LedgerStatus Status,
        int AttemptKind, string? EscalatedFrom, ServiceTier ServiceTier, Speed Speed, string? InferenceGeo, bool Priced, bool HasTokens, bool EffortSent);
}
