using System.Globalization;

namespace ModelMix.Audit;

/// <summary>
/// Projected monthly spend from the last weeks of the ledger, before and after the recommendations: size a
/// committed-spend contract on the optimized floor, not on the unoptimized bill (<see cref="Commit"/>).
/// </summary>
/// <param name="From">Start of the window (inclusive).</param>
/// <param name="To">End of the window (exclusive).</param>
/// <param name="WeeklyUsd">Recorded spend of each week of the window, earliest first (the last may be partial).</param>
/// <param name="MonthlyBeforeUsd">The window's spend scaled to an average month (30.4375 days).</param>
/// <param name="MonthlySavingUsd">The monthly saving of the actionable recommendations.</param>
internal sealed record SpendForecast(DateTimeOffset From, DateTimeOffset To, IReadOnlyList<decimal> WeeklyUsd, decimal MonthlyBeforeUsd, decimal MonthlySavingUsd)
{
    /// <summary>
    /// Calls of the window that the models the actionable recommendations pin could not have served; the saving counts
    /// them at what they cost as recorded (see <see cref="Recommendation.InfeasibleCalls"/>).
    /// </summary>
    public long InfeasibleCalls { get; init; }

    /// <summary>The headroom <see cref="Commit"/> leaves below the optimized floor unless told otherwise: 20%.</summary>
    public const decimal DefaultHeadroom = 0.20m;

    /// <summary>Projected monthly spend once the recommendations are applied.</summary>
    public decimal MonthlyAfterUsd => MonthlyBeforeUsd - MonthlySavingUsd;

    /// <summary>How many actionable recommendations the saving comes from.</summary>
    public int Recommendations { get; init; }

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
            var date = DateTimeOffset.Parse(day.Name + "T00:00:00Z", CultureInfo.InvariantCulture);
            var index = (int)Math.Floor((date - from.UtcDateTime.Date).TotalDays / 7);
            weekly[Math.Clamp(index, 0, weeks - 1)] += day.CostUsd;
        }

        var factor = (decimal)AuditAccumulator.AverageMonth.Ticks / (to - from).Ticks;
        var actionable = recommendations
            .Where(r => r.Kind is RecommendationKind.CheaperModel or RecommendationKind.BiggerModelCheaperInTotal)
            .ToList();
        var saving = actionable.Sum(r => r.MonthlySavingUsd);
        return new SpendForecast(from, to, weekly, report.TotalUsd * factor, saving) { InfeasibleCalls = actionable.Sum(r => r.InfeasibleCalls), Recommendations = actionable.Count };
    }

    /// <summary>
    /// A committed monthly spend sized from the optimized forecast floor (the window's spend with the recommendations
    /// applied), not today's bill: the floor less <paramref name="headroom"/>, and never above the quietest full week
    /// of the window optimized the same way, rounded down to whole dollars. The assumptions are spelled out.
    /// </summary>
    /// <param name="headroom">The share below the floor to leave unused-commitment room for (0 to 0.9).</param>
    public CommitSizing Commit(decimal headroom = DefaultHeadroom)
    {
        if (headroom is < 0 or > 0.9m)
        {
            throw new ArgumentOutOfRangeException(nameof(headroom), headroom, "The headroom must be between 0 and 0.9.");
        }

        var weeksPerMonth = (decimal)AuditAccumulator.AverageMonth.TotalDays / 7m;
        var optimizedShare = MonthlyBeforeUsd == 0 ? 1m : MonthlyAfterUsd / MonthlyBeforeUsd;
        var fullWeeks = (int)Math.Floor((To - From).TotalDays / 7);
        decimal? quietest = fullWeeks > 0 ? WeeklyUsd.Take(fullWeeks).Min() * weeksPerMonth * optimizedShare : null;
        var floor = MonthlyAfterUsd;
        var committed = Math.Floor(Math.Max(0, Math.Min(floor * (1 - headroom), quietest ?? decimal.MaxValue)));
        var c = CultureInfo.InvariantCulture;
        var days = (To - From).TotalDays;
        var assumptions = new List<string>
        {
            string.Create(c, $"the floor is the optimized forecast, not today's bill: {Usd(MonthlyBeforeUsd)} a month from {From:yyyy-MM-dd} → {To:yyyy-MM-dd} ({days:0.#} days scaled to 30.4375), less {Usd(MonthlySavingUsd)} of {Recommendations} recommendation(s), = {Usd(floor)}"),
            "the recommendations are applied and keep their measured quality; the rest of the traffic keeps its models",
            "volume stays at the window's level: no growth or decline is assumed",
            quietest is { } q
                ? string.Create(c, $"the quietest full week of the window, optimized in the same proportion, projects to {Usd(q)} a month; the commitment stays under it")
                : "the window has no full week, so no quietest week bounds the commitment: use --weeks 4 or more",
            string.Create(c, $"{headroom * 100:0.#}% headroom below the floor, so a quieter month or further savings do not leave commitment unused"),
            "prices stay at the price book's list rates, before any committed-spend discount",
        };
        if (fullWeeks < 4)
        {
            assumptions.Add(string.Create(c, $"only {fullWeeks} full week(s) of history: a longer window (--weeks) gives a steadier floor"));
        }

        return new CommitSizing(floor, quietest, headroom, committed, assumptions);
    }

    private static string Usd(decimal value) => "$" + value.ToString("N2", CultureInfo.InvariantCulture);
}
