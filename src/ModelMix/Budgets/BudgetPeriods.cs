namespace ModelMix.Budgets;

/// <summary>
/// The UTC periods of the budget windows: where the period containing an instant starts, and when it ends (the
/// instant the budget resets). Pure functions of the instant, so tests drive them with a fake clock.
/// </summary>
internal static class BudgetPeriods
{
    /// <summary>The first instant of the period of <paramref name="window"/> containing <paramref name="at"/>; the Unix epoch for <see cref="BudgetWindow.Total"/>.</summary>
    public static DateTimeOffset Start(BudgetWindow window, DateTimeOffset at)
    {
        var utc = at.ToUniversalTime();
        return window switch
        {
            BudgetWindow.Day => new DateTimeOffset(utc.Year, utc.Month, utc.Day, 0, 0, 0, TimeSpan.Zero),
            BudgetWindow.Month => new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero),
            BudgetWindow.Total => DateTimeOffset.UnixEpoch,
            _ => throw new ArgumentOutOfRangeException(nameof(window), window, "Unknown budget window."),
        };
    }

    /// <summary>When the period containing <paramref name="at"/> ends and the budget resets; null for <see cref="BudgetWindow.Total"/>, which never resets.</summary>
    public static DateTimeOffset? End(BudgetWindow window, DateTimeOffset at) => window switch
    {
        BudgetWindow.Day => Start(window, at).AddDays(1),
        BudgetWindow.Month => Start(window, at).AddMonths(1),
        BudgetWindow.Total => null,
        _ => throw new ArgumentOutOfRangeException(nameof(window), window, "Unknown budget window."),
    };

    /// <summary>The stable text code stored for a window (<c>day</c>, <c>month</c>, <c>total</c>).</summary>
    public static string ToCode(BudgetWindow window) => window switch
    {
        BudgetWindow.Day => "day",
        BudgetWindow.Month => "month",
        BudgetWindow.Total => "total",
        _ => throw new ArgumentOutOfRangeException(nameof(window), window, "Unknown budget window."),
    };

    /// <summary>Parses a window code (<c>day</c>/<c>daily</c>, <c>month</c>/<c>monthly</c>, <c>total</c>), case-insensitive.</summary>
    public static bool TryParse(string? text, out BudgetWindow window)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "day" or "daily" or "d":
                window = BudgetWindow.Day;
                return true;
            case "month" or "monthly" or "m":
                window = BudgetWindow.Month;
                return true;
            case "total" or "all" or "lifetime":
                window = BudgetWindow.Total;
                return true;
            default:
                window = default;
                return false;
        }
    }

    /// <summary>The window's adjective for messages (<c>daily</c>, <c>monthly</c>, <c>total</c>).</summary>
    public static string Describe(BudgetWindow window) => window switch
    {
        BudgetWindow.Day => "daily",
        BudgetWindow.Month => "monthly",
        _ => "total",
    };
}
