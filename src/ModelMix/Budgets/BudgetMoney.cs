using System.Globalization;

namespace ModelMix.Budgets;

/// <summary>
/// Budget amounts are stored as whole nano-dollars (1e-9 USD) in INTEGER columns, so the store can check
/// <c>spent + reserved + amount &lt;= cap</c> exactly inside one SQL statement (SQLite arithmetic on decimal text
/// would be floating point). Amounts charged are rounded up to the next nano-dollar, so rounding can only make a
/// budget stricter, never looser. The ledger keeps the exact decimal costs.
/// </summary>
internal static class BudgetMoney
{
    /// <summary>Nano-dollars per dollar.</summary>
    public const long NanosPerUsd = 1_000_000_000L;

    /// <summary>The largest cap or amount representable: one billion USD.</summary>
    public const decimal MaxUsd = 1_000_000_000m;

    /// <summary>USD to nano-dollars, rounded up (negative amounts count as zero).</summary>
    public static long ToNanos(decimal usd)
    {
        // Stryker disable once Equality : equivalent (docs/testing.md, budgets): 0 USD converts to 0 nano-dollars either way
        if (usd <= 0m)
        {
            return 0;
        }

        var clamped = Math.Min(usd, MaxUsd);
        return (long)decimal.Ceiling(clamped * NanosPerUsd);
    }

    /// <summary>A cap in USD to nano-dollars, rounded down (so rounding never loosens a cap).</summary>
    // Stryker disable once Equality : equivalent (docs/testing.md, budgets): a cap of 0 USD converts to 0 nano-dollars either way
    public static long CapToNanos(decimal usd) => usd <= 0m ? 0 : (long)decimal.Floor(Math.Min(usd, MaxUsd) * NanosPerUsd);

    /// <summary>Nano-dollars to USD (exact).</summary>
    public static decimal ToUsd(long nanos) => (decimal)nanos / NanosPerUsd;

    /// <summary>A USD amount for messages: cents when large, more digits when small (<c>$0.000184</c>).</summary>
    // Stryker disable once Equality : equivalent (docs/testing.md, budgets): at exactly 1 both formats print 1.00 (two decimals required, none more)
    public static string Format(decimal usd) =>
        "$" + (Math.Abs(usd) >= 1m ? usd.ToString("0.00", CultureInfo.InvariantCulture) : usd.ToString("0.00####", CultureInfo.InvariantCulture));
}
