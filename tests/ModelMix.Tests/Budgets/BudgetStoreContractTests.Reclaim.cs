using ModelMix.Budgets;
using ModelMix.Ledger;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// What the sweep charges when it reclaims holds (issue 20 §5, docs/keys-and-budgets.md "Crashes" and "Budget leases"): a
/// dead process's reservation is charged under the overrun rule like a live settlement, and a reclaimed lease keeps its
/// unspent slice held for one more lease life so the records of requests still running are charged against it.
/// </summary>
public abstract partial class BudgetStoreContractTests
{
    [Fact]
    public async Task A_reclaimed_reservation_is_charged_under_the_overrun_rule_and_the_rest_is_booked_as_overrun()
    {
        // A model name of this test's own, so other tests' overruns do not count here.
        var model = "claude-haiku-4-5-" + Guid.NewGuid().ToString("N");
        using var meter = new OverrunMeter(model);

        // The dead request held $0.1; another process then spent $0.85 of the $1 day cap.
        var reservation = (await Store.ReserveAsync("req-dead", [Daily(1m)], 0.1m, Time.GetUtcNow(), Ttl)).Reservation!;
        await SpendOnAnotherStoreAsync(0.85m);

        // A lying upstream: the dead request's two attempts recorded $0.25 + $0.15 = $0.4 against its $0.1 hold.
        var first = Record("req-dead", 0.25m) with { RoutedModel = model };
        var last = Record("req-dead", 0.15m) with { RoutedModel = model };
        await using var ledger = NewLedgerStore();
        await ledger.MigrateAsync();
        await ledger.WriteBatchAsync([first, last]);

        Time.Advance(Ttl);
        Assert.Equal(1, await Store.ReconcileExpiredAsync(Time.GetUtcNow()));

        // As a live settlement: its hold (0.1) plus the room up to cap + its hold (1 + 0.1 − 0.85 spent − 0.1 held = 0.15)
        // is chargeable: 0.25. Spent 0.85 + 0.25 = 1.1 (the cap plus one hold); the 0.4 − 0.25 = 0.15 beyond is the
        // overrun, on the request's last priced row, and counted on /metrics.
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 1.1m, 0m), await Usage(BudgetWindow.Day));
        var overruns = new Dictionary<string, decimal?>();
        await foreach (var row in ledger.ReadAsync(new LedgerQuery { RequestId = "req-dead" }))
        {
            overruns[row.Id] = row.OverrunUsd;
        }

        Assert.Equal(new Dictionary<string, decimal?> { [first.Id] = null, [last.Id] = 0.15m }, overruns);
        Assert.Equal(1, meter.Rows);
        Assert.Equal(0.15d, meter.Usd, 9);

        // The request was only slow: its late settlement of the same $0.4 charges nothing more (the reclaim accounted for it).
        await Store.SettleAsync(reservation, 0.4m);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 1.1m, 0m), await Usage(BudgetWindow.Day));
    }

    [Fact]
    public async Task A_lease_reclaimed_with_an_honest_request_still_running_keeps_its_slice_held_and_the_late_record_is_charged_without_overrun()
    {
        // The lease takes $0.5 of the $1 day cap (share 1) for a 30 s life; a request journals an attempt against it, then its
        // process stalls (renews nothing) and the sweep reclaims the lease.
        Assert.Equal(Nanos / 2, await Leases.GrowLeaseAsync("lse_late", create: true, "slow", [Daily(1m)], 0, Nanos / 2, 1m, Time.GetUtcNow(), Time.GetUtcNow() + TimeSpan.FromSeconds(30)));
        await using var ledger = (IAttemptJournalStore)NewLedgerStore();
        await ledger.MigrateAsync();
        var intent = Intent("req-1", 1000, "lse_late");
        await ledger.WriteIntentsAsync("slow", [intent], Time.GetUtcNow());
        Time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(1, await Store.ReconcileExpiredAsync(Time.GetUtcNow()));

        // Nothing was charged to it; its unspent $0.5 stays held for one more lease life, so another process gets only the
        // other $0.5 (before: the reclaim released it, a second $0.5 was granted, and the late record found no room).
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0m, 0.5m), await Usage(BudgetWindow.Day));
        await using var other = NewBudgetStore();
        Assert.True((await other.ReserveAsync("req-2", [Daily(1m)], 0.5m, Time.GetUtcNow(), Ttl)).Succeeded);
        Assert.False((await other.ReserveAsync("req-3", [Daily(1m)], 0.5m, Time.GetUtcNow(), Ttl)).Succeeded);

        // The stalled request's record commits: $0.25, within what the slice held for it. Charged in full from the held
        // slice, no overrun: spent 0.25; held 0.5 − 0.25 = 0.25 left of the slice + req-2's 0.5 = 0.75.
        await ledger.WriteBatchAsync([Record("req-1", 0.25m) with { Id = intent.Id }]);
        Assert.Equal(new Dictionary<string, decimal?> { ["req-1"] = null }, await OverrunsByRequest(ledger));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0.25m, 0.75m), await Usage(BudgetWindow.Day));

        // One lease life (30 s) after the reclaim the sweep releases what is left of it: 0.25 more room under the cap.
        Time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(0, await Store.ReconcileExpiredAsync(Time.GetUtcNow()));
        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await Store.ReconcileExpiredAsync(Time.GetUtcNow()));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0.25m, 0.5m), await Usage(BudgetWindow.Day));
        Assert.False((await other.ReserveAsync("req-4", [Daily(1m)], 0.250000001m, Time.GetUtcNow(), Ttl)).Succeeded);
        Assert.True((await other.ReserveAsync("req-5", [Daily(1m)], 0.25m, Time.GetUtcNow(), Ttl)).Succeeded); // 0.25 + 0.5 + 0.25 = the cap
    }

    [Fact]
    public async Task Attempts_reconciled_after_their_reservations_were_reclaimed_are_charged_under_the_overrun_rule()
    {
        var model = "claude-haiku-4-5-" + Guid.NewGuid().ToString("N");
        using var meter = new OverrunMeter(model);

        // Two requests of a process that then dies hold $0.25 each of the $1 day cap; each has one attempt in flight whose
        // worst case is $0.25 (50,000 output tokens × $5/MTok).
        var first = (await Store.ReserveAsync("req-1", [Daily(1m)], 0.25m, Time.GetUtcNow(), Ttl)).Reservation!;
        var second = (await Store.ReserveAsync("req-2", [Daily(1m)], 0.25m, Time.GetUtcNow(), Ttl)).Reservation!;
        await using var ledger = (IAttemptJournalStore)NewLedgerStore();
        await ledger.MigrateAsync();
        await ledger.WriteIntentsAsync("dead", [Intent("req-1", 50_000, first.Id) with { Id = "intent-1", RoutedModel = model }, Intent("req-2", 50_000, second.Id) with { Id = "intent-2", RoutedModel = model }], Time.GetUtcNow());

        // The sweep reclaims both holds before the attempts are reconciled: nothing in the ledger yet, so nothing is charged
        // and the $0.5 is released; another process then spends $0.9 of the room.
        Time.Advance(Ttl);
        Assert.Equal(2, await Store.ReconcileExpiredAsync(Time.GetUtcNow()));
        await SpendOnAnotherStoreAsync(0.9m);

        // Reconciled at their worst case, in order, each with its own hold ($0.25) as the slack and nothing held:
        // intent-1: room = 1 + 0.25 − 0.9 spent − 0 held = 0.35 ≥ 0.25, charged in full → spent 1.15;
        // intent-2: room = 1 + 0.25 − 1.15 = 0.1, charged 0.1 → spent 1.25 (the cap plus one hold); 0.25 − 0.1 = 0.15 is its
        // overrun, on its own row and counted on /metrics once. (Before: both charged in full, spent 0.9 + 0.25 + 0.25 = 1.4, past cap + one hold.)
        Assert.Equal(2, await ledger.ReconcileIntentsAsync("alive", Time.GetUtcNow(), TimeSpan.FromSeconds(30), PriceAsHaiku));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 1.25m, 0m), await Usage(BudgetWindow.Day));
        Assert.Equal(new Dictionary<string, decimal?> { ["intent-1"] = null, ["intent-2"] = 0.15m }, await OverrunsById(ledger));
        Assert.Equal(1, meter.Rows);
        Assert.Equal(0.15d, meter.Usd, 9);

        // Ledger and budget agree: Σ cost − Σ overrun over the reconciled rows = 0.25 + 0.25 − 0.15 = 0.35 = 1.25 − the other's 0.9.
        // The requests were only slow: their late settlements of the same $0.25 charge nothing more (the reconciliation accounted for it).
        await Store.SettleAsync(first, 0.25m);
        await Store.SettleAsync(second, 0.25m);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 1.25m, 0m), await Usage(BudgetWindow.Day));
    }

    [Fact]
    public async Task Attempts_reconciled_after_their_lease_was_reclaimed_draw_on_its_tail_then_the_room_and_the_rest_is_overrun()
    {
        var model = "claude-haiku-4-5-" + Guid.NewGuid().ToString("N");
        using var meter = new OverrunMeter(model);

        // A lease of $0.5 of the $1 day cap (share 1, a 30 s life); its process dies with two attempts in flight, worth $0.25
        // (50,000 output tokens × $5/MTok) and $0.5 (100,000) at their worst case.
        Assert.Equal(Nanos / 2, await Leases.GrowLeaseAsync("lse_rc", create: true, "dead", [Daily(1m)], 0, Nanos / 2, 1m, Time.GetUtcNow(), Time.GetUtcNow() + TimeSpan.FromSeconds(30)));
        await using var ledger = (IAttemptJournalStore)NewLedgerStore();
        await ledger.MigrateAsync();
        await ledger.WriteIntentsAsync("dead", [Intent("req-1", 50_000, "lse_rc") with { Id = "intent-1", RoutedModel = model }, Intent("req-2", 100_000, "lse_rc") with { Id = "intent-2", RoutedModel = model }], Time.GetUtcNow());

        // The sweep reclaims the lease first: nothing charged, its $0.5 held as its tail; another process spends the other $0.5.
        Time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(1, await Store.ReconcileExpiredAsync(Time.GetUtcNow()));
        await SpendOnAnotherStoreAsync(0.5m);

        // Reconciled in order, as the ledger batch charges a closed lease's records (its tail, then the room up to the cap, no slack):
        // intent-1: 0.25 from the tail (0.5 → 0.25 left) → spent 0.75;
        // intent-2: 0.25 left of the tail + room 1 − 0.75 spent − 0.25 held = 0 → charged 0.25, overrun 0.5 − 0.25 = 0.25.
        // Spent 1 (the cap), nothing held. (Before: charged in full, spent 1.25.)
        Assert.Equal(2, await ledger.ReconcileIntentsAsync("alive", Time.GetUtcNow(), TimeSpan.FromSeconds(30), PriceAsHaiku));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 1m, 0m), await Usage(BudgetWindow.Day));
        Assert.Equal(new Dictionary<string, decimal?> { ["intent-1"] = null, ["intent-2"] = 0.25m }, await OverrunsById(ledger));
        Assert.Equal(1, meter.Rows);
        Assert.Equal(0.25d, meter.Usd, 9);
    }

    [Fact]
    public async Task Attempts_reconciled_while_their_lease_is_open_are_charged_up_to_its_slice_and_the_room_and_the_rest_is_overrun()
    {
        var model = "claude-haiku-4-5-" + Guid.NewGuid().ToString("N");
        using var meter = new OverrunMeter(model);

        // Another process has spent $0.85 of the $1 day cap; a lease takes $0.1 of the rest (share 1); its process dies with
        // an attempt in flight worth $0.25 at its worst case (50,000 output tokens × $5/MTok).
        await SpendOnAnotherStoreAsync(0.85m);

        Assert.Equal(Nanos / 10, await Leases.GrowLeaseAsync("lse_ro", create: true, "dead", [Daily(1m)], 0, Nanos / 10, 1m, Time.GetUtcNow(), Time.GetUtcNow() + Ttl));
        await using var ledger = (IAttemptJournalStore)NewLedgerStore();
        await ledger.MigrateAsync();
        await ledger.WriteIntentsAsync("dead", [Intent("req-1", 50_000, "lse_ro") with { Id = "intent-1", RoutedModel = model }], Time.GetUtcNow());

        // Reconciled before the lease expires: its free slice 0.1 + room 1 − 0.85 spent − 0.1 held = 0.05 → charged 0.15,
        // overrun 0.25 − 0.15 = 0.1. Spent 0.85 + 0.15 = 1 (the cap), the slice fully spent. (Before: 0.25 charged, spent 1.1.)
        Time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(1, await ledger.ReconcileIntentsAsync("alive", Time.GetUtcNow(), TimeSpan.FromSeconds(30), PriceAsHaiku));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 1m, 0m), await Usage(BudgetWindow.Day));
        Assert.Equal(new Dictionary<string, decimal?> { ["intent-1"] = 0.1m }, await OverrunsById(ledger));
        Assert.Equal(1, meter.Rows);
        Assert.Equal(0.1d, meter.Usd, 9);
    }

    /// <summary>Another process reserves and spends <paramref name="usd"/> of the $1 day cap.</summary>
    private async Task SpendOnAnotherStoreAsync(decimal usd)
    {
        await using var other = NewBudgetStore();
        var spent = (await other.ReserveAsync("req-other", [Daily(1m)], usd, Time.GetUtcNow(), Ttl)).Reservation!;
        await other.SettleAsync(spent, usd);
    }

    /// <summary>Prices a reconciled record as Claude Haiku 4.5 ($1 / $5 per MTok), whatever model name the test gave it.</summary>
    private static LedgerRecord PriceAsHaiku(LedgerRecord record) =>
        record with { Cost = TestPrices.Tiers4x.Cost("claude-haiku-4-5", record.Usage, record.Timestamp) };

    private static async Task<Dictionary<string, decimal?>> OverrunsById(IAttemptJournalStore ledger)
    {
        var overruns = new Dictionary<string, decimal?>();
        await foreach (var row in ((ILedgerStore)ledger).ReadAsync(new LedgerQuery()))
        {
            overruns[row.Id] = row.OverrunUsd;
        }

        return overruns;
    }
}
