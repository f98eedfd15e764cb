using ModelMix.Budgets;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// The reservation paths both backends now share (<see cref="BudgetHoldPlan"/>): a counter named twice, what a
/// reservation carries, and which budget a refusal names when several have no room. Run against SQLite and PostgreSQL.
/// </summary>
public abstract partial class BudgetStoreContractTests
{
    [Fact]
    public async Task A_counter_named_twice_holds_once_under_the_first_cap_named_and_the_reservation_carries_its_request()
    {
        var at = Time.GetUtcNow();
        IReadOnlyList<BudgetLimit> limits = [Daily(1m), Monthly(10m), Daily(2m)];

        // 0.6000000001 USD is 600,000,000.1 nano-dollars, held as 600,000,001 (rounded up): once in the day, once in the month.
        var first = (await Store.ReserveAsync("req-a", limits, 0.6000000001m, at, Ttl)).Reservation!;

        Assert.StartsWith("res_", first.Id, StringComparison.Ordinal);
        Assert.Equal(("req-a", 0.600000001m, at, at + Ttl), (first.RequestId, first.AmountUsd, first.CreatedAt, first.ExpiresAt));
        Assert.Same(limits, first.Limits);
        Assert.Equal(0.600000001m, (await Usage(BudgetWindow.Day)).ReservedUsd); // not 1.200000002: the day is held once
        Assert.Equal(0.600000001m, (await Usage(BudgetWindow.Month)).ReservedUsd);

        // The day's first cap ($1) rules, not the $2 named after it: 0.600000001 held + 0.4 asked = 1.000000001 > $1.
        var refused = await Store.ReserveAsync("req-b", limits, 0.4m, at, Ttl);
        Assert.Equal(Daily(1m), refused.Refusal!.Limit);

        await Store.SettleAsync(first, 0.5m);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0.5m, 0m), await Usage(BudgetWindow.Day));
        Assert.Equal(0.5m, (await Usage(BudgetWindow.Month)).SpentUsd); // charged once in each counter
    }

    [Fact]
    public async Task When_several_budgets_have_no_room_the_refusal_names_the_first_listed_and_holds_nothing()
    {
        var at = Time.GetUtcNow();
        Assert.True((await Store.ReserveAsync("req-a", [Daily(1m), Monthly(1m)], 0.7m, at, Ttl)).Succeeded);

        // 0.7 held + 0.5 asked = 1.2 > $1 in the month and in the day: the month is listed first.
        var refusal = (await Store.ReserveAsync("req-b", [Monthly(1m), Daily(1m)], 0.5m, at, Ttl)).Refusal!;

        Assert.Equal(Monthly(1m), refusal.Limit);
        Assert.Equal((0m, 0.7m, 0.5m), (refusal.SpentUsd, refusal.ReservedUsd, refusal.RequestedUsd));
        Assert.Equal(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero), refusal.ResetsAt);
        Assert.Equal(0.7m, (await Usage(BudgetWindow.Day)).ReservedUsd);
        Assert.Equal(0.7m, (await Usage(BudgetWindow.Month)).ReservedUsd);
    }
}
