using System.Globalization;
using ModelMix.Budgets;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// Budget windows and caps as text, and a refusal over its cap (gaps the <c>budgets</c> mutation runs listed,
/// docs/testing.md: the window aliases, the cap at exactly <see cref="BudgetMoney.MaxUsd"/>, the messages in full).
/// </summary>
public sealed class BudgetTextSurvivorTests
{
    [Theory]
    [InlineData("day", BudgetWindow.Day)]
    [InlineData("daily", BudgetWindow.Day)]
    [InlineData("d", BudgetWindow.Day)]
    [InlineData(" DAILY ", BudgetWindow.Day)]
    [InlineData("month", BudgetWindow.Month)]
    [InlineData("monthly", BudgetWindow.Month)]
    [InlineData("m", BudgetWindow.Month)]
    [InlineData("Monthly", BudgetWindow.Month)]
    [InlineData("total", BudgetWindow.Total)]
    [InlineData("all", BudgetWindow.Total)]
    [InlineData("lifetime", BudgetWindow.Total)]
    [InlineData("TOTAL", BudgetWindow.Total)]
    public void Every_window_spelling_parses(string text, BudgetWindow expected)
    {
        Assert.True(BudgetPeriods.TryParse(text, out var window));
        Assert.Equal(expected, window);
        Assert.Equal(expected, BudgetCap.Parse("1/" + text).Window);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("week")]
    [InlineData("days")]
    [InlineData("t")]
    public void Unknown_windows_do_not_parse(string? text)
    {
        Assert.False(BudgetPeriods.TryParse(text, out var window));
        Assert.Equal(default, window);
    }

    [Fact]
    public void Windows_have_a_stored_code_and_an_adjective_and_an_unknown_window_is_refused()
    {
        Assert.Equal(["day", "month", "total"], new[] { BudgetWindow.Day, BudgetWindow.Month, BudgetWindow.Total }.Select(BudgetPeriods.ToCode));
        Assert.Equal(["daily", "monthly", "total"], new[] { BudgetWindow.Day, BudgetWindow.Month, BudgetWindow.Total }.Select(BudgetPeriods.Describe));

        var unknown = (BudgetWindow)42;
        foreach (var refused in new[]
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => BudgetPeriods.ToCode(unknown)),
            Assert.Throws<ArgumentOutOfRangeException>(() => BudgetPeriods.Start(unknown, DateTimeOffset.UnixEpoch)),
            Assert.Throws<ArgumentOutOfRangeException>(() => BudgetPeriods.End(unknown, DateTimeOffset.UnixEpoch)),
        })
        {
            Assert.Equal("window", refused.ParamName);
            Assert.Equal(42, refused.ActualValue is BudgetWindow w ? (int)w : -1);
            Assert.StartsWith("Unknown budget window.", refused.Message, StringComparison.Ordinal); // the reason, not only the name
        }
    }

    [Fact]
    public void A_period_starts_at_its_first_instant_and_ends_at_the_next_periods()
    {
        var first = new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero);
        var last = new DateTimeOffset(2026, 2, 28, 23, 59, 59, TimeSpan.Zero).AddTicks(9_999_999);

        Assert.Equal(first, BudgetPeriods.Start(BudgetWindow.Month, first));
        Assert.Equal(first, BudgetPeriods.Start(BudgetWindow.Month, last));
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), BudgetPeriods.End(BudgetWindow.Month, last)); // February: 28 days
        Assert.Equal(new DateTimeOffset(2026, 2, 28, 0, 0, 0, TimeSpan.Zero), BudgetPeriods.Start(BudgetWindow.Day, last));
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), BudgetPeriods.End(BudgetWindow.Day, last));
    }

    [Fact]
    public void A_cap_of_exactly_the_largest_amount_parses_and_one_nano_dollar_more_does_not()
    {
        Assert.Equal(1_000_000_000m, BudgetCap.Parse("1000000000/total").AmountUsd); // BudgetMoney.MaxUsd: one billion USD
        Assert.False(BudgetCap.TryParse("1000000000.000000001/total", out var cap, out var error));
        Assert.Null(cap);
        Assert.Equal(
            "'1000000000.000000001/total': the amount '1000000000.000000001' must be a positive number of US dollars up to 1000000000, e.g. 50 or 12.5.",
            error);
    }

    [Fact]
    public void Refusals_of_a_cap_say_why_in_full()
    {
        Assert.False(BudgetCap.TryParse("50", out _, out var noWindow));
        Assert.Equal("'50' is not a budget: use AMOUNT/WINDOW in USD, e.g. 50/day, 500/month or 2000/total.", noWindow);
        Assert.False(BudgetCap.TryParse(null, out _, out var none));
        Assert.Equal("'' is not a budget: use AMOUNT/WINDOW in USD, e.g. 50/day, 500/month or 2000/total.", none);
        Assert.False(BudgetCap.TryParse("$0/day", out _, out var zero));
        Assert.Equal("'$0/day': the amount '$0' must be a positive number of US dollars up to 1000000000, e.g. 50 or 12.5.", zero);
        Assert.False(BudgetCap.TryParse("5/week", out _, out var week));
        Assert.Equal("'5/week': the window 'week' must be day, month or total.", week);

        var ex = Assert.Throws<FormatException>(() => BudgetCap.Parse("5/week"));
        Assert.Equal(week, ex.Message);
        Assert.True(BudgetCap.TryParse("5/day", out _, out var ok));
        Assert.Null(ok);
    }

    [Theory]
    [InlineData("12.5/monthly", "12.5/month")]
    [InlineData("$0.000000001/lifetime", "0.000000001/total")]
    [InlineData(" 50 / d ", "50/day")]
    public void A_cap_prints_in_the_form_it_parses_from(string text, string printed)
    {
        var cap = BudgetCap.Parse(text);
        Assert.Equal(printed, cap.ToString());
        Assert.Equal(cap, BudgetCap.Parse(cap.ToString()));
    }

    [Fact]
    public void A_refusal_over_its_cap_says_by_how_much_and_why()
    {
        // Spent $0.95 + held $0.10 against a $1 cap: over by 0.95 + 0.10 − 1 = $0.05.
        var limit = new BudgetLimit("key:k1", "key 'team-a'", BudgetWindow.Month, 1m);
        var refusal = new BudgetRefusal(limit, 0.95m, 0.1m, 0.02m, new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero));

        Assert.Equal(0.05m, refusal.OverCapUsd);
        Assert.Equal(
            "Budget exceeded: the monthly budget of key 'team-a' is $1.00; $0.95 is spent and $0.10 is held by requests in flight, " +
            "and this request may cost up to $0.02 (its input plus max_tokens of output). " +
            "It is over its cap by $0.05: answers cost more than their requests' worst case " +
            "(an upstream that returned more than max_tokens, or input a request did not show). It resets at 2026-04-01T00:00:00Z.",
            refusal.Message);

        // Exactly at the cap (0.9 + 0.1 = 1): not over, no such sentence.
        var atCap = refusal with { SpentUsd = 0.9m };
        Assert.Equal(0m, atCap.OverCapUsd);
        Assert.DoesNotContain("over its cap", atCap.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1", "$1.00")] // from a dollar: cents
    [InlineData("-1", "$-1.00")] // and from minus a dollar (Math.Abs)
    [InlineData("0.999999", "$0.999999")] // below: up to six decimals
    [InlineData("-0.5", "$-0.50")] // below a dollar either side of zero
    [InlineData("0.0000004", "$0.00")] // below a millionth: rounds to nothing shown
    public void Amounts_print_in_cents_from_a_dollar_either_side_of_zero(string usd, string expected)
    {
        Assert.Equal(expected, BudgetMoney.Format(decimal.Parse(usd, CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void Money_converts_to_whole_nano_dollars_at_the_largest_amount_and_back_exactly()
    {
        Assert.Equal(1_000_000_000L * 1_000_000_000L, BudgetMoney.ToNanos(2_000_000_000m)); // clamped to MaxUsd: 1e9 USD × 1e9
        Assert.Equal(1_000_000_000L * 1_000_000_000L, BudgetMoney.CapToNanos(2_000_000_000m));
        Assert.Equal(0, BudgetMoney.CapToNanos(-1m));
        Assert.Equal(1, BudgetMoney.CapToNanos(0.0000000019m)); // rounded down: 1.9 nano-dollars → 1
        Assert.Equal(2, BudgetMoney.ToNanos(0.0000000011m)); // rounded up: 1.1 nano-dollars → 2
        Assert.Equal(0.000000001m, BudgetMoney.ToUsd(1));
        Assert.Equal(-0.5m, BudgetMoney.ToUsd(-500_000_000));
    }
}
