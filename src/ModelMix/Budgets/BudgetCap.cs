using System.Globalization;

namespace ModelMix.Budgets;

/// <summary>A spending cap in USD over one window, e.g. <c>50/day</c>.</summary>
/// <param name="Window">The window the cap applies to.</param>
/// <param name="AmountUsd">The most that may be spent in one period of the window, in USD (positive).</param>
public sealed record BudgetCap(BudgetWindow Window, decimal AmountUsd)
{
    /// <summary>Parses <c>AMOUNT/WINDOW</c>, e.g. <c>50/day</c>, <c>$500/month</c>, <c>2000/total</c> (invariant culture).</summary>
    /// <exception cref="FormatException">The text is not a positive amount and a known window.</exception>
    public static BudgetCap Parse(string text) =>
        TryParse(text, out var cap, out var error) ? cap : throw new FormatException(error);

    /// <summary>Parses <c>AMOUNT/WINDOW</c>; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out BudgetCap? cap, out string? error)
    {
        cap = null;
        // Stryker disable once String : equivalent (docs/testing.md, budgets): a null text has no '/' either way and its refusal names the text itself, shown as ''
        var parts = (text ?? string.Empty).Split('/', 2, StringSplitOptions.TrimEntries);
        if (parts.Length != 2)
        {
            error = $"'{text}' is not a budget: use AMOUNT/WINDOW in USD, e.g. 50/day, 500/month or 2000/total.";
            return false;
        }

        var amountText = parts[0].TrimStart('$');
        if (!decimal.TryParse(amountText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount) || amount <= 0m || amount > BudgetMoney.MaxUsd)
        {
            error = $"'{text}': the amount '{parts[0]}' must be a positive number of US dollars up to {BudgetMoney.MaxUsd.ToString(CultureInfo.InvariantCulture)}, e.g. 50 or 12.5.";
            return false;
        }

        if (!BudgetPeriods.TryParse(parts[1], out var window))
        {
            error = $"'{text}': the window '{parts[1]}' must be day, month or total.";
            return false;
        }

        cap = new BudgetCap(window, amount);
        error = null;
        return true;
    }

    /// <summary>The cap as <c>AMOUNT/WINDOW</c>, the form <see cref="Parse"/> reads.</summary>
    public override string ToString() => AmountUsd.ToString(CultureInfo.InvariantCulture) + "/" + BudgetPeriods.ToCode(Window);
}
