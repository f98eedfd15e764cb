using ModelMix.Budgets;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// <see cref="BudgetHoldPlan.Fits"/> (used only by the PostgreSQL store, whose tests the budgets mutation filter leaves
/// out) and <see cref="BudgetHoldEnd.LeaseTail"/>, checked directly (issue 27: the budgets run's survivors).
/// </summary>
public sealed class BudgetHoldPlanTests
{
    private static readonly DateTimeOffset At = new(2026, 3, 14, 15, 9, 26, TimeSpan.Zero);

    private static BudgetHoldPlan Plan() =>
        // $2 under a $10/day cap: Amount = 2 × 10^9 nano-dollars, Cap = 10 × 10^9.
        BudgetHoldPlan.Create("req_fits", [new BudgetLimit("key:fits", "fits", BudgetWindow.Day, 10m)], 2m, At, TimeSpan.FromMinutes(5));

    [Fact]
    public void A_hold_that_fills_the_cap_exactly_fits()
    {
        var plan = Plan();
        var counter = Assert.Single(plan.Counters);
        Assert.Equal(2_000_000_000L, plan.Amount);
        Assert.Equal(10_000_000_000L, counter.Cap);

        // 5 spent + 3 held + 2 asked = 10 = the cap: fits (the cap is reachable, not exclusive).
        Assert.True(plan.Fits(counter, spent: 5_000_000_000, reserved: 3_000_000_000));
    }

    [Fact]
    public void A_hold_one_nano_dollar_over_the_cap_does_not_fit()
    {
        var plan = Plan();
        var counter = Assert.Single(plan.Counters);

        // 5 spent + (3 held + 1 nano) + 2 asked = 10 dollars + 1 nano > the cap. Spent, held and asked all count: with
        // the amount subtracted (6 dollars + 1 nano) or the held money subtracted (4 dollars - 1 nano) it would fit.
        Assert.False(plan.Fits(counter, spent: 5_000_000_000, reserved: 3_000_000_001));
    }

    [Fact]
    public void Nothing_fits_in_a_counter_already_at_its_cap()
    {
        var plan = Plan();
        var counter = Assert.Single(plan.Counters);

        // 10 spent + 0 held + 2 asked = 12 > 10.
        Assert.False(plan.Fits(counter, spent: 10_000_000_000, reserved: 0));
    }

    [Fact]
    public void A_lease_of_before_lease_lives_keeps_no_tail()
    {
        // A lease row from before schema step 4 (an upgraded database with a lease open) has no lease_ttl: its unspent
        // slice (5 - 2 = 3 dollars) is released at once, not kept as a tail.
        Assert.Equal(0L, BudgetHoldEnd.LeaseTail(amount: 5_000_000_000, leaseSpent: 2_000_000_000, leaseTtl: null));
    }

    [Fact]
    public void A_lease_keeps_its_unspent_slice_as_tail_never_below_zero()
    {
        var ttl = TimeSpan.FromMinutes(2).Ticks;

        // 5 held - 2 spent = 3 dollars kept for one more lease life.
        Assert.Equal(3_000_000_000L, BudgetHoldEnd.LeaseTail(amount: 5_000_000_000, leaseSpent: 2_000_000_000, leaseTtl: ttl));
        // Spent beyond the slice (5 - 7 < 0): nothing kept.
        Assert.Equal(0L, BudgetHoldEnd.LeaseTail(amount: 5_000_000_000, leaseSpent: 7_000_000_000, leaseTtl: ttl));
    }
}
