namespace ModelMix.Audit;

/// <summary>Cost per conversation (records grouped by session id), in USD.</summary>
/// <param name="Sessions">Sessions counted.</param>
/// <param name="MeanUsd">Mean cost per session.</param>
/// <param name="P50Usd">Median (nearest rank).</param>
/// <param name="P95Usd">95th percentile (nearest rank).</param>
/// <param name="TotalUsd">Total cost of the sessions.</param>
internal sealed record AuditSessionStats(long Sessions, decimal MeanUsd, decimal P50Usd, decimal P95Usd, decimal TotalUsd)
{
    /// <summary>Statistics of a list of session costs; null when it is empty.</summary>
    /// <param name="costs">Each session's total cost (sorted here).</param>
    public static AuditSessionStats? Of(List<decimal> costs)
    {
        ArgumentNullException.ThrowIfNull(costs);
        if (costs.Count == 0)
        {
            return null;
        }

        costs.Sort();
        var total = 0m;
        foreach (var cost in costs)
        {
            total += cost;
        }

        return new AuditSessionStats(costs.Count, total / costs.Count, NearestRank(costs, 0.50), NearestRank(costs, 0.95), total);
    }

    /// <summary>The nearest-rank percentile: the smallest value with at least <paramref name="p"/> of the values at or below it.</summary>
    private static decimal NearestRank(List<decimal> sorted, double p)
    {
        var rank = (int)Math.Ceiling(p * sorted.Count);
        return sorted[Math.Clamp(rank, 1, sorted.Count) - 1];
    }
}
