namespace ModelMix.Audit;

/// <summary>
/// Projected monthly spend from the last weeks of the ledger, before and after the recommendations: size a
/// committed-spend contract on the optimized floor, not on the unoptimized bill.
/// </summary>
/// <param name="From">Start of the window (inclusive).</param>
/// <param name="To">End of the window (exclusive).</param>
/// <param name="WeeklyUsd">Recorded spend of each week of the window, earliest first.</param>
/// <param name="MonthlyBeforeUsd">The window's spend scaled to an average month (30.4375 days).</param>
/// <param name="MonthlySavingUsd">The monthly saving of the actionable recommendations.</param>
public sealed record SpendForecast(DateTimeOffset From, DateTimeOffset To, IReadOnlyList<decimal> WeeklyUsd, decimal MonthlyBeforeUsd, decimal MonthlySavingUsd)
{
    /// <summary>
    /// Calls of the window that the models the actionable recommendations pin could not have served; the saving counts
    /// them at what they cost as recorded (see <see cref="Recommendation.InfeasibleCalls"/>).
    /// </summary>
    public long InfeasibleCalls { get; init; }

    /// <summary>Projected monthly spend once the recommendations are applied.</summary>
    public decimal MonthlyAfterUsd => MonthlyBeforeUsd - MonthlySavingUsd;

    /// <summary>The forecast of an audit whose range is exactly the window.</summary>
    /// <param name="report">The audit of <paramref name="from"/>..<paramref name="to"/>.</param>
    /// <param name="recommendations">The recommendations for the same window.</param>
    /// <param name="from">Window start.</param>
    /// <param name="to">Window end.</param>
    public static SpendForecast Compute(AuditReport report, IEnumerable<Recommendation> recommendations, DateTimeOffset from, DateTimeOffset to)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(recommendations);
        var weeks = Math.Max(1, (int)Math.Ceiling((to - from).TotalDays / 7));
        var weekly = new decimal[weeks];
        foreach (var day in report.ByDay)
        {
            var date = DateTimeOffset.Parse(day.Name + "T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
            var index = (int)Math.Floor((date - from.UtcDateTime.Date).TotalDays / 7);
            weekly[Math.Clamp(index, 0, weeks - 1)] += day.CostUsd;
        }

        var factor = (decimal)AuditAccumulator.AverageMonth.Ticks / (to - from).Ticks;
        var actionable = recommendations
            .Where(r => r.Kind is RecommendationKind.CheaperModel or RecommendationKind.BiggerModelCheaperInTotal)
            .ToList();
        var saving = actionable.Sum(r => r.MonthlySavingUsd);
        return new SpendForecast(from, to, weekly, report.TotalUsd * factor, saving) { InfeasibleCalls = actionable.Sum(r => r.InfeasibleCalls) };
    }
}
