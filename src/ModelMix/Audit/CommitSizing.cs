namespace ModelMix.Audit;

/// <summary>A committed monthly spend proposed from the optimized forecast (<see cref="SpendForecast.Commit"/>), with its assumptions.</summary>
/// <param name="FloorMonthlyUsd">The optimized forecast floor: the window's monthly spend with the recommendations applied.</param>
/// <param name="QuietestWeekMonthlyUsd">The quietest full week of the window, optimized the same way, as a month; null without a full week.</param>
/// <param name="Headroom">The share left below the floor.</param>
/// <param name="CommittedMonthlyUsd">The proposed commitment: the floor less the headroom, at most the quietest week's month, in whole dollars.</param>
/// <param name="Assumptions">What the number assumes, one sentence each.</param>
internal sealed record CommitSizing(decimal FloorMonthlyUsd, decimal? QuietestWeekMonthlyUsd, decimal Headroom, decimal CommittedMonthlyUsd, IReadOnlyList<string> Assumptions);
