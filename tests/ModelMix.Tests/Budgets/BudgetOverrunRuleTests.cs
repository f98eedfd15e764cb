using ModelMix.Budgets;

namespace ModelMix.Tests.Budgets;

/// <summary>The charge rule of upstream overrun (<see cref="BudgetOverrunRule"/>, docs/keys-and-budgets.md "Overshoot"). Amounts in nano-dollars.</summary>
public sealed class BudgetOverrunRuleTests
{
    private const long Cap = 4_000_000; // $0.004

    [Fact]
    public void An_honest_answer_within_its_hold_is_charged_in_full_even_at_the_cap()
    {
        // Spent $0.0037, held $0.0003 (this request's hold): spent + held = $0.004 = the cap. The answer costs $0.00025 ≤ its
        // hold: charged in full, no overrun.
        var chargeable = BudgetOverrunRule.Chargeable(free: 300_000, slack: 300_000, [new(3_700_000, 300_000, Cap)]);
        Assert.Equal((250_000L, 0L), BudgetOverrunRule.Split(250_000, chargeable));
    }

    [Fact]
    public void A_lying_answer_is_charged_up_to_the_cap_plus_its_hold_and_the_rest_is_overrun()
    {
        // Spent $0.001, held $0.000275 (this hold only). Released, the key may reach cap + W = $0.004 + $0.000275 = $0.004275:
        // chargeable = $0.004275 − $0.001 = $0.003275 (= free $0.000275 + room $0.004 + $0.000275 − $0.001 − $0.000275).
        // The answer costs $0.0075: charged $0.003275, overrun $0.0075 − $0.003275 = $0.004225.
        var chargeable = BudgetOverrunRule.Chargeable(free: 275_000, slack: 275_000, [new(1_000_000, 275_000, Cap)]);
        Assert.Equal(3_275_000, chargeable);
        Assert.Equal((3_275_000L, 4_225_000L), BudgetOverrunRule.Split(7_500_000, chargeable));
    }

    [Fact]
    public void Other_holds_in_flight_are_left_room_for()
    {
        // Spent $0, held $0.004 by 14 holds of about $0.000286 and this one of $0.000275. Room up to cap + W:
        // $0.004 + $0.000275 − $0.004 = $0.000275; chargeable = free $0.000275 + $0.000275 = $0.00055, so once every other
        // hold settles at most in full the key is at $0.004 − $0.000275 + $0.00055 = $0.004275 = cap + W.
        var chargeable = BudgetOverrunRule.Chargeable(free: 275_000, slack: 275_000, [new(0, 4_000_000, Cap)]);
        Assert.Equal(550_000, chargeable);
    }

    [Fact]
    public void A_key_already_past_its_cap_is_charged_only_what_the_hold_still_holds()
    {
        // Spent $0.0042 and held $0.000275 (this hold): past cap + W, so no room; the hold's own $0.000275 is charged
        // (moving money from held to spent never raises spent + held), the other $0.0072 of a $0.0075 answer is overrun.
        var chargeable = BudgetOverrunRule.Chargeable(free: 275_000, slack: 0, [new(4_200_000, 275_000, Cap)]);
        Assert.Equal((275_000L, 7_225_000L), BudgetOverrunRule.Split(7_500_000, chargeable));
    }

    [Fact]
    public void The_tightest_counter_decides_and_a_counter_without_a_stored_cap_does_not()
    {
        // Day: room $0.004 − $0.0035 − $0.0001 = $0.0004; month ($1): room far larger; total: no stored cap (a hold from
        // before caps were stored). Chargeable = free $0.0001 + $0.0004 = $0.0005.
        var chargeable = BudgetOverrunRule.Chargeable(free: 100_000, slack: 0, [new(3_500_000, 100_000, Cap), new(10_000_000, 100_000, 1_000_000_000), new(0, 0, null)]);
        Assert.Equal(500_000, chargeable);
        Assert.Equal(long.MaxValue, BudgetOverrunRule.Chargeable(free: 100_000, slack: 0, [new(0, 0, null)])); // no cap: charged in full
    }

    [Fact]
    public void A_closed_lease_with_no_room_charges_nothing_and_books_it_all_as_overrun()
    {
        // A closed lease holds nothing (free 0); its counter sits at the cap: $0.0025 is all overrun.
        var chargeable = BudgetOverrunRule.Chargeable(free: 0, slack: 0, [new(Cap, 0, Cap)]);
        Assert.Equal((0L, 2_500_000L), BudgetOverrunRule.Split(2_500_000, chargeable));
    }
}
