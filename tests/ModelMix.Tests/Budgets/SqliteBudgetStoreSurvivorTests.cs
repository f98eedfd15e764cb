using Microsoft.Extensions.Time.Testing;
using ModelMix.Budgets;
using ModelMix.Ledger;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// <see cref="SqliteBudgetStore"/> where the contract tests did not look (written from the <c>budgets-sqlite</c> mutation
/// run, docs/testing.md "Seventh session"): a limit named twice, what a reservation and a refusal carry, unpriced
/// attempts, the purge of reclaimed reservations after their retention, and the lease operations' edges. Amounts are
/// worked by hand in the comments; nano-dollars in the lease calls, USD in what is read back.
/// </summary>
public sealed class SqliteBudgetStoreSurvivorTests() : BudgetStoreFileFixture("modelmix-budget-survivor-tests")
{
    private const long Nanos = BudgetMoney.NanosPerUsd;
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(15);
    private static readonly DateTimeOffset T0 = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Day0 = new(2026, 3, 14, 0, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(T0);

    private static BudgetLimit Daily(decimal cap) => new("key:k1", "key 'team-a'", BudgetWindow.Day, cap);

    private static BudgetLimit Monthly(decimal cap) => new("key:k1", "key 'team-a'", BudgetWindow.Month, cap);

    private Task<BudgetUsage> Usage(DateTimeOffset? at = null) => Store.GetUsageAsync("key:k1", BudgetWindow.Day, at ?? _time.GetUtcNow());

    [Fact]
    public async Task A_limit_named_twice_holds_its_money_once()
    {
        // $0.6 twice against one $1 counter would be $1.2 and be refused; held once it fits.
        var result = await Store.ReserveAsync("req1", [Daily(1m), Daily(1m)], 0.6m, T0, Ttl);

        Assert.True(result.Succeeded);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0.6m), await Usage());
        await Store.SettleAsync(result.Reservation!, 0.5m);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.5m, 0m), await Usage());
    }

    [Fact]
    public async Task A_reservation_carries_its_request_amount_instants_and_limits()
    {
        IReadOnlyList<BudgetLimit> limits = [Daily(1m), Monthly(10m)];

        var reservation = (await Store.ReserveAsync("req-7", limits, 0.0000000011m, T0, Ttl)).Reservation!;

        Assert.StartsWith("res_", reservation.Id, StringComparison.Ordinal);
        Assert.Equal("req-7", reservation.RequestId);
        Assert.Equal(0.000000002m, reservation.AmountUsd); // 1.1 nano-dollars, rounded up
        Assert.Equal(T0, reservation.CreatedAt);
        Assert.Equal(T0 + Ttl, reservation.ExpiresAt);
        Assert.Same(limits, reservation.Limits);
        Assert.Equal(0.000000002m, (await Usage()).ReservedUsd);
        Assert.Equal(0.000000002m, (await Store.GetUsageAsync("key:k1", BudgetWindow.Month, T0)).ReservedUsd);
    }

    [Fact]
    public async Task A_refusal_carries_what_is_spent_held_and_asked_and_when_the_budget_resets()
    {
        var spent = (await Store.ReserveAsync("req1", [Monthly(1m)], 0.4m, T0, Ttl)).Reservation!;
        await Store.SettleAsync(spent, 0.3m);
        Assert.True((await Store.ReserveAsync("req2", [Monthly(1m)], 0.5m, T0, Ttl)).Succeeded);

        // 0.3 spent + 0.5 held + 0.25 asked = 1.05 > $1.
        var refusal = (await Store.ReserveAsync("req3", [Daily(5m), Monthly(1m)], 0.25m, T0, Ttl)).Refusal!;

        Assert.Equal(Monthly(1m), refusal.Limit);
        Assert.Equal((0.3m, 0.5m, 0.25m), (refusal.SpentUsd, refusal.ReservedUsd, refusal.RequestedUsd));
        Assert.Equal(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero), refusal.ResetsAt);
        Assert.Equal(0m, (await Usage()).ReservedUsd); // the day's hold taken before the month refused was rolled back
    }

    [Fact]
    public async Task Bad_arguments_are_refused_by_name()
    {
        Assert.Equal("requestId", (await Assert.ThrowsAsync<ArgumentException>(() => Store.ReserveAsync("", [Daily(1m)], 0.1m, T0, Ttl))).ParamName);
        Assert.Equal("limits", (await Assert.ThrowsAsync<ArgumentNullException>(() => Store.ReserveAsync("r", null!, 0.1m, T0, Ttl))).ParamName);
        Assert.Equal("amountUsd", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.ReserveAsync("r", [Daily(1m)], -0.1m, T0, Ttl))).ParamName);
        Assert.Equal("reservation", (await Assert.ThrowsAsync<ArgumentNullException>(() => Store.SettleAsync(null!, 0m))).ParamName);
        Assert.Equal("scope", (await Assert.ThrowsAsync<ArgumentException>(() => Store.GetUsageAsync("", BudgetWindow.Day, T0))).ParamName);
        Assert.Equal("leaseId", (await Assert.ThrowsAsync<ArgumentException>(() => Store.GrowLeaseAsync("", true, "i", [Daily(1m)], 0, 1, 1m, T0, T0 + Ttl))).ParamName);
        Assert.Equal("limits", (await Assert.ThrowsAsync<ArgumentNullException>(() => Store.GrowLeaseAsync("lse_a", true, "i", null!, 0, 1, 1m, T0, T0 + Ttl))).ParamName);
        Assert.Equal("leaseId", (await Assert.ThrowsAsync<ArgumentException>(() => Store.ShrinkLeaseAsync("", 0, T0 + Ttl))).ParamName);
        Assert.Equal("leaseIds", (await Assert.ThrowsAsync<ArgumentNullException>(() => Store.CloseLeasesAsync(null!, T0))).ParamName);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0m), await Usage()); // nothing was held by any of them
    }

    [Fact]
    public async Task A_reclaimed_reservation_whose_request_has_an_unpriced_attempt_with_tokens_is_charged_its_whole_hold()
    {
        Assert.True((await Store.ReserveAsync("req-u", [Daily(1m)], 0.9m, T0, Ttl)).Succeeded);
        await using (var ledger = await NewLedgerAsync())
        {
            await ledger.WriteBatchAsync([Record("req-u", 0.25m), Record("req-u", null)]);
        }

        _time.Advance(Ttl);
        Assert.Equal(1, await Store.ReconcileExpiredAsync(_time.GetUtcNow()));

        // Erring on the side of the budget: the whole $0.9, not the priced $0.25.
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.9m, 0m), await Usage());
    }

    [Fact]
    public async Task An_unpriced_attempt_without_tokens_costs_nothing_and_the_priced_ones_are_charged()
    {
        Assert.True((await Store.ReserveAsync("req-z", [Daily(1m)], 0.9m, T0, Ttl)).Succeeded);
        await using (var ledger = await NewLedgerAsync())
        {
            await ledger.WriteBatchAsync([Record("req-z", null, tokens: 0), Record("req-z", 0.25m), Record("req-z", 0.125m)]);
        }

        _time.Advance(Ttl);
        Assert.Equal(1, await Store.ReconcileExpiredAsync(_time.GetUtcNow()));

        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.375m, 0m), await Usage()); // 0.25 + 0.125
    }

    [Fact]
    public async Task A_settlement_in_the_ledger_batch_of_a_request_with_an_unpriced_attempt_charges_the_whole_hold()
    {
        var reservation = (await Store.ReserveAsync("req-u", [Daily(1m)], 0.9m, T0, Ttl)).Reservation!;
        await using var ledger = await NewLedgerAsync();

        await ledger.CommitAsync([Record("req-u", 0.25m), Record("req-u", null)], [new ReservationSettlement(reservation.Id, "req-u")]);

        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.9m, 0m), await Usage());
    }

    [Fact]
    public async Task A_reclaimed_reservation_is_kept_seven_days_for_its_late_settlement_then_purged()
    {
        var a = (await Store.ReserveAsync("req-a", [Daily(1m)], 0.1m, T0, Ttl)).Reservation!;
        var b = (await Store.ReserveAsync("req-b", [Daily(1m)], 0.1m, T0, Ttl)).Reservation!;
        _time.Advance(Ttl);
        Assert.Equal(2, await Store.ReconcileExpiredAsync(_time.GetUtcNow())); // reclaimed at T0 + 15 min, charged nothing (no ledger)

        // Exactly the retention later: both still kept. A late settlement of $0.05 charges its day what the reclaim did not.
        _time.Advance(SqliteBudgetStore.ReclaimedRetention);
        Assert.Equal(0, await Store.ReconcileExpiredAsync(_time.GetUtcNow()));
        await Store.SettleAsync(a, 0.05m);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.05m, 0m), await Usage(T0));

        // One tick more: b is purged, so its (very) late settlement finds nothing and charges nothing.
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(0, await Store.ReconcileExpiredAsync(_time.GetUtcNow()));
        await Store.SettleAsync(b, 0.07m);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.05m, 0m), await Usage(T0));
    }

    [Fact]
    public async Task A_lease_that_does_not_exist_is_not_grown_without_create_and_a_lease_without_room_for_its_minimum_is_refused()
    {
        Assert.Null(await Store.GrowLeaseAsync("lse_none", create: false, "inst-1", [Daily(1m)], 0, Nanos / 2, 1m, T0, T0 + Ttl));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0m), await Usage());

        // Room $1: a minimum of $1 fits exactly, $1 and a nano-dollar does not.
        Assert.Null(await Store.GrowLeaseAsync("lse_big", create: true, "inst-1", [Daily(1m)], Nanos + 1, Nanos, 1m, T0, T0 + Ttl));
        Assert.Equal(0m, (await Usage()).ReservedUsd);
        Assert.Equal(Nanos, await Store.GrowLeaseAsync("lse_big", create: true, "inst-1", [Daily(1m)], Nanos, Nanos, 1m, T0, T0 + Ttl));
        Assert.Equal(1m, (await Usage()).ReservedUsd);
    }

    [Fact]
    public async Task A_lease_over_two_limits_takes_its_slice_from_the_tighter_one_and_holds_it_in_both()
    {
        Assert.True((await Store.ReserveAsync("req1", [Monthly(10m)], 9.8m, T0, Ttl)).Succeeded); // the month has $0.2 left, the day $1

        Assert.Equal(Nanos / 5, await Store.GrowLeaseAsync("lse_two", create: true, "inst-1", [Daily(1m), Monthly(10m)], 0, Nanos, 1m, T0, T0 + Ttl));
        Assert.Equal(0.2m, (await Usage()).ReservedUsd);
        Assert.Equal(10m, (await Store.GetUsageAsync("key:k1", BudgetWindow.Month, T0)).ReservedUsd); // 9.8 + 0.2
    }

    [Fact]
    public async Task Shrinking_gives_back_at_most_what_is_unspent_and_never_a_negative_amount()
    {
        Assert.Null(await Store.ShrinkLeaseAsync("lse_none", Nanos, T0 + Ttl));
        Assert.Equal(Nanos / 2, await Store.GrowLeaseAsync("lse_s", create: true, "inst-1", [Daily(1m)], 0, Nanos / 2, 1m, T0, T0 + Ttl));
        await ChargeLeaseAsync("lse_s", 0.125m);

        Assert.Equal(Nanos / 8, await Store.ShrinkLeaseAsync("lse_s", -Nanos, T0 + Ttl)); // nothing back; returns what its records cost
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.125m, 0.375m), await Usage()); // slice 0.5: 0.125 spent, 0.375 held

        Assert.Equal(Nanos / 8, await Store.ShrinkLeaseAsync("lse_s", 2 * Nanos, T0 + Ttl)); // asked for $2 back: only the unspent 0.375
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.125m, 0m), await Usage());

        await Store.CloseLeasesAsync(["lse_s"], T0);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.125m, 0m), await Usage());
    }

    [Fact]
    public async Task Closing_charges_a_lease_once_and_ignores_unknown_and_empty_lists()
    {
        Assert.Equal(Nanos / 2, await Store.GrowLeaseAsync("lse_c", create: true, "inst-1", [Daily(1m)], 0, Nanos / 2, 1m, T0, T0 + Ttl));
        await ChargeLeaseAsync("lse_c", 0.2m);

        await Store.CloseLeasesAsync([], T0);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.2m, 0.3m), await Usage()); // still open
        await Store.CloseLeasesAsync(["lse_unknown", "lse_c"], T0);
        await Store.CloseLeasesAsync(["lse_c"], T0);

        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.2m, 0m), await Usage()); // charged 0.2 once, the slice released once
        Assert.Null(await Store.ShrinkLeaseAsync("lse_c", 0, T0 + Ttl));
    }

    [Fact]
    public async Task A_lease_grown_again_holds_both_slices_and_moves_its_expiry()
    {
        Assert.Equal(Nanos / 4, await Store.GrowLeaseAsync("lse_g", create: true, "inst-1", [Daily(1m)], 0, Nanos / 4, 1m, T0, T0 + Ttl));
        Assert.Equal(Nanos / 4, await Store.GrowLeaseAsync("lse_g", create: false, "inst-1", [Daily(1m)], 0, Nanos / 4, 1m, T0, T0 + 2 * Ttl));
        Assert.Equal(0.5m, (await Usage()).ReservedUsd);

        // Not expired at T0 + TTL (its expiry moved to T0 + 2 TTL); reclaimed then, its unspent $0.5 kept for one more life.
        Assert.Equal(0, await Store.ReconcileExpiredAsync(T0 + Ttl));
        Assert.Equal(1, await Store.ReconcileExpiredAsync(T0 + 2 * Ttl));
        Assert.Equal(0.5m, (await Usage()).ReservedUsd);
    }

    [Fact]
    public async Task A_usage_read_before_anything_was_held_is_zero_and_another_scopes_lease_spend_is_not_counted()
    {
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0m), await Usage());

        var other = new BudgetLimit("key:k2", "key 'team-b'", BudgetWindow.Day, 1m);
        Assert.Equal(Nanos / 2, await Store.GrowLeaseAsync("lse_o", create: true, "inst-1", [other], 0, Nanos / 2, 1m, T0, T0 + Ttl));
        Assert.True((await Store.ReserveAsync("req1", [Daily(1m)], 0.25m, T0, Ttl)).Succeeded);
        await ChargeLeaseAsync("lse_o", 0.125m);

        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0.25m), await Usage());
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.125m, 0.375m), await Store.GetUsageAsync("key:k2", BudgetWindow.Day, T0));
    }

    private async Task<SqliteLedgerStore> NewLedgerAsync()
    {
        var ledger = new SqliteLedgerStore(DbPath);
        await ledger.MigrateAsync();
        return ledger;
    }

    /// <summary>Commits a record of <paramref name="cost"/> journaled against <paramref name="leaseId"/> (the ledger batch charges it to the lease).</summary>
    private async Task ChargeLeaseAsync(string leaseId, decimal cost)
    {
        await using var ledger = await NewLedgerAsync();
        var intent = BudgetTestRecords.Intent("req-" + leaseId, leaseId, T0);
        await ledger.WriteIntentsAsync("inst-1", [intent], T0);
        await ledger.WriteBatchAsync([BudgetTestRecords.Record(intent.RequestId, cost, T0, id: intent.Id)]);
    }

    private static LedgerRecord Record(string requestId, decimal? cost, long tokens = 10) => BudgetTestRecords.Record(requestId, cost, T0, tokens);
}
