using Microsoft.Extensions.Time.Testing;
using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Budgets;

/// <summary>The contract every <see cref="IBudgetStore"/> keeps, run against SQLite and PostgreSQL by subclasses.</summary>
public abstract partial class BudgetStoreContractTests : IAsyncLifetime
{
    protected static readonly TimeSpan Ttl = TimeSpan.FromMinutes(15);
    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 3, 14, 23, 0, 0, TimeSpan.Zero));
    protected IBudgetStore Store { get; set; } = null!;

    /// <summary>Creates this test's empty database.</summary>
    protected abstract Task CreateDatabaseAsync();

    /// <summary>Deletes this test's database.</summary>
    protected abstract Task DeleteDatabaseAsync();

    /// <summary>Another budget store over this test's database (what another process or replica would open).</summary>
    protected abstract IBudgetStore NewBudgetStore();

    /// <summary>A ledger store over this test's database.</summary>
    protected abstract ILedgerStore NewLedgerStore();

    public async Task InitializeAsync()
    {
        await CreateDatabaseAsync();
        Store = NewBudgetStore();
        await Store.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await Store.DisposeAsync();
        await DeleteDatabaseAsync();
    }

    private static BudgetLimit Daily(decimal cap) => new("key:k1", "key 'team-a'", BudgetWindow.Day, cap);

    [Fact]
    public async Task Reservation_holds_money_and_settlement_replaces_it_with_the_real_cost()
    {
        var result = await Store.ReserveAsync("req1", [Daily(1m)], 0.4m, Time.GetUtcNow(), Ttl);
        Assert.True(result.Succeeded);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0m, 0.4m), await Usage(BudgetWindow.Day));

        await Store.SettleAsync(result.Reservation!, 0.123m);

        var usage = await Usage(BudgetWindow.Day);
        Assert.Equal(0.123m, usage.SpentUsd);
        Assert.Equal(0m, usage.ReservedUsd);
    }

    [Fact]
    public async Task Settling_zero_releases_the_reservation()
    {
        var result = await Store.ReserveAsync("req1", [Daily(1m)], 0.4m, Time.GetUtcNow(), Ttl);

        await Store.SettleAsync(result.Reservation!, 0m);
        await Store.SettleAsync(result.Reservation!, 0.5m); // settling twice changes nothing

        Assert.Equal(0m, (await Usage(BudgetWindow.Day)).SpentUsd);
        Assert.Equal(0m, (await Usage(BudgetWindow.Day)).ReservedUsd);
    }

    [Fact]
    public async Task Reservation_that_would_exceed_a_cap_is_refused_and_holds_nothing()
    {
        var first = await Store.ReserveAsync("req1", [Daily(1m)], 0.6m, Time.GetUtcNow(), Ttl);
        var monthly = new BudgetLimit("key:k1", "key 'team-a'", BudgetWindow.Month, 100m);

        var second = await Store.ReserveAsync("req2", [monthly, Daily(1m)], 0.6m, Time.GetUtcNow(), Ttl);

        Assert.True(first.Succeeded);
        Assert.False(second.Succeeded);
        Assert.Equal(BudgetWindow.Day, second.Refusal!.Limit.Window);
        Assert.Equal(0.6m, second.Refusal.ReservedUsd);
        Assert.Equal(new DateTimeOffset(2026, 3, 15, 0, 0, 0, TimeSpan.Zero), second.Refusal.ResetsAt);
        Assert.Equal(0m, (await Usage(BudgetWindow.Month)).ReservedUsd); // all or nothing: the monthly hold was rolled back
    }

    [Fact]
    public async Task A_reservation_that_exactly_fills_the_cap_is_allowed()
    {
        Assert.True((await Store.ReserveAsync("req1", [Daily(1m)], 0.5m, Time.GetUtcNow(), Ttl)).Succeeded);
        Assert.True((await Store.ReserveAsync("req2", [Daily(1m)], 0.5m, Time.GetUtcNow(), Ttl)).Succeeded);
        Assert.False((await Store.ReserveAsync("req3", [Daily(1m)], 0.000000001m, Time.GetUtcNow(), Ttl)).Succeeded);
    }

    [Fact]
    public async Task Daily_budget_resets_at_utc_midnight_but_total_does_not()
    {
        var total = new BudgetLimit("key:k1", "key 'team-a'", BudgetWindow.Total, 1.5m);
        var first = await Store.ReserveAsync("req1", [Daily(1m), total], 1m, Time.GetUtcNow(), Ttl);
        await Store.SettleAsync(first.Reservation!, 1m);
        Assert.False((await Store.ReserveAsync("req2", [Daily(1m)], 0.1m, Time.GetUtcNow(), Ttl)).Succeeded);

        Time.Advance(TimeSpan.FromHours(1)); // 2026-03-15T00:00Z

        Assert.True((await Store.ReserveAsync("req3", [Daily(1m)], 0.9m, Time.GetUtcNow(), Ttl)).Succeeded);
        var refused = await Store.ReserveAsync("req4", [total], 0.6m, Time.GetUtcNow(), Ttl);
        Assert.False(refused.Succeeded);
        Assert.Null(refused.Refusal!.ResetsAt);
        Assert.Equal(1m, refused.Refusal.SpentUsd);
    }

    [Fact]
    public async Task A_request_that_straddles_midnight_is_charged_to_the_day_it_started()
    {
        var reservation = (await Store.ReserveAsync("req1", [Daily(1m)], 0.5m, Time.GetUtcNow(), Ttl)).Reservation!;
        Time.Advance(TimeSpan.FromHours(2));

        await Store.SettleAsync(reservation, 0.2m);

        Assert.Equal(0m, (await Usage(BudgetWindow.Day)).SpentUsd);
        Assert.Equal(0.2m, (await Store.GetUsageAsync("key:k1", BudgetWindow.Day, Time.GetUtcNow().AddDays(-1))).SpentUsd);
    }

    [Fact]
    public async Task Concurrent_reservations_never_exceed_the_cap()
    {
        // Two stores on one file stand for two processes: SQLite's write lock (BEGIN IMMEDIATE) arbitrates between them.
        await using var other = NewBudgetStore();
        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            Task.Run(() => (i % 2 == 0 ? Store : other).ReserveAsync("req" + i, [Daily(1m)], 0.03m, Time.GetUtcNow(), Ttl))));

        Assert.Equal(33, results.Count(result => result.Succeeded)); // 33 × $0.03 = $0.99 ≤ $1 < 34 × $0.03
        await Task.WhenAll(results.Where(result => result.Succeeded).Select(result => Task.Run(() => Store.SettleAsync(result.Reservation!, 0.03m))));
        var usage = await Usage(BudgetWindow.Day);
        Assert.Equal(0.99m, usage.SpentUsd);
        Assert.Equal(0m, usage.ReservedUsd);
    }

    [Fact]
    public async Task Expired_reservation_of_a_dead_process_is_released_when_nothing_was_recorded()
    {
        await using (var crashed = NewBudgetStore())
        {
            Assert.True((await crashed.ReserveAsync("req-dead", [Daily(1m)], 0.9m, Time.GetUtcNow(), Ttl)).Succeeded);
        }

        Assert.Equal(0, await Store.ReconcileExpiredAsync(Time.GetUtcNow()));
        Assert.False((await Store.ReserveAsync("req2", [Daily(1m)], 0.5m, Time.GetUtcNow(), Ttl)).Succeeded);

        Time.Advance(Ttl);

        // The refused reservation reclaims what is expired and tries again.
        Assert.True((await Store.ReserveAsync("req3", [Daily(1m)], 0.5m, Time.GetUtcNow(), Ttl)).Succeeded);
        var usage = await Usage(BudgetWindow.Day);
        Assert.Equal(0m, usage.SpentUsd);
        Assert.Equal(0.5m, usage.ReservedUsd);
    }

    [Fact]
    public async Task Expired_reservation_is_charged_what_its_request_recorded_in_the_ledger()
    {
        var reservation = (await Store.ReserveAsync("req-dead", [Daily(1m)], 0.9m, Time.GetUtcNow(), Ttl)).Reservation!;
        await using (var ledger = NewLedgerStore())
        {
            await ledger.MigrateAsync();
            await ledger.WriteBatchAsync([Record("req-dead", 0.25m), Record("other", 0.5m)]);
        }

        Time.Advance(Ttl);
        Assert.Equal(1, await Store.ReconcileExpiredAsync(Time.GetUtcNow()));

        var usage = await Usage(BudgetWindow.Day);
        Assert.Equal(0.25m, usage.SpentUsd);
        Assert.Equal(0m, usage.ReservedUsd);

        // The "dead" request was only slow: its late settlement charges only what the reclaim did not.
        await Store.SettleAsync(reservation, 0.3m);
        Assert.Equal(0.3m, (await Usage(BudgetWindow.Day)).SpentUsd);
        Assert.Equal(0m, (await Usage(BudgetWindow.Day)).ReservedUsd);
    }

    [Fact]
    public async Task A_settlement_in_the_ledger_batch_charges_what_the_ledger_holds_and_releases_the_hold()
    {
        var reservation = (await Store.ReserveAsync("req1", [Daily(1m)], 0.9m, Time.GetUtcNow(), Ttl)).Reservation!;
        await using var ledger = (IAttemptJournalStore)NewLedgerStore();
        await ledger.MigrateAsync();

        // Two attempts of the request ($0.25 + $0.125) and another request's record, then the settlement: one transaction.
        await ledger.CommitAsync([Record("req1", 0.25m), Record("req1", 0.125m), Record("other", 0.5m)], [new ReservationSettlement(reservation.Id, "req1")]);

        var usage = await Usage(BudgetWindow.Day);
        Assert.Equal(0.375m, usage.SpentUsd); // 0.25 + 0.125, the request's rows only
        Assert.Equal(0m, usage.ReservedUsd);

        // Settling again (a replayed batch) changes nothing.
        await ledger.CommitAsync([], [new ReservationSettlement(reservation.Id, "req1")]);
        Assert.Equal(0.375m, (await Usage(BudgetWindow.Day)).SpentUsd);
    }

    [Fact]
    public async Task Intents_of_a_dead_instance_become_outcome_unknown_rows_once_and_those_of_live_ones_stay()
    {
        var reservation = (await Store.ReserveAsync("req-dead", [Daily(1m)], 0.9m, Time.GetUtcNow(), Ttl)).Reservation!;
        await using var ledger = (IAttemptJournalStore)NewLedgerStore();
        await ledger.MigrateAsync();
        var answered = Intent("req-dead", 100_000, reservation.Id); // $0.5 at its worst case: 100,000 output tokens × $5/MTok
        var lost = Intent("req-dead", 50_000, reservation.Id); // $0.25: 50,000 × $5/MTok
        await ledger.WriteIntentsAsync("dead", [answered, lost], Time.GetUtcNow());
        await ledger.WriteIntentsAsync("alive", [Intent("req-alive", 100_000, null)], Time.GetUtcNow());

        // The first attempt's own record completes its intent; then "dead" stops beating and "alive" beats on.
        await ledger.WriteBatchAsync([Record("req-dead", 0.125m) with { Id = answered.Id }]);
        Time.Advance(TimeSpan.FromSeconds(31));
        await ledger.HeartbeatAsync("alive", Time.GetUtcNow());
        Assert.Equal(0, await ledger.ReconcileIntentsAsync("alive", Time.GetUtcNow() - TimeSpan.FromSeconds(31), TimeSpan.FromSeconds(30), Price)); // not stale yet then

        // Two replicas sweeping at once move the dead instance's one pending intent once.
        await using var other = (IAttemptJournalStore)NewLedgerStore();
        await other.MigrateAsync();
        var moved = await Task.WhenAll(
            ledger.ReconcileIntentsAsync("alive", Time.GetUtcNow(), TimeSpan.FromSeconds(30), Price),
            other.ReconcileIntentsAsync("third", Time.GetUtcNow(), TimeSpan.FromSeconds(30), Price));
        Assert.Equal(1, moved.Sum());
        Assert.Equal(1, await ledger.CountIntentsAsync()); // the live instance's

        var rows = new List<LedgerRecord>();
        await foreach (var row in ledger.ReadAsync(new LedgerQuery { RequestId = "req-dead" }))
        {
            rows.Add(row);
        }

        Assert.Equal([(answered.Id, LedgerStatus.Ok, 0.125m), (lost.Id, LedgerStatus.OutcomeUnknown, 0.25m)], rows.OrderBy(row => row.Status).Select(row => (row.Id, row.Status, row.Cost!.Value.Total)));

        // The hold is reclaimed after the reconciliation: charged the ledger's rows, 0.125 + 0.25.
        Time.Advance(Ttl);
        Assert.Equal(1, await Store.ReconcileExpiredAsync(Time.GetUtcNow()));
        Assert.Equal(0.375m, (await Usage(BudgetWindow.Day)).SpentUsd);
        Assert.Equal(0m, (await Usage(BudgetWindow.Day)).ReservedUsd);
    }

    [Fact]
    public async Task An_intent_reconciled_after_its_hold_was_reclaimed_is_charged_to_the_budget_then()
    {
        var reservation = (await Store.ReserveAsync("req-dead", [Daily(1m)], 0.9m, Time.GetUtcNow(), Ttl)).Reservation!;
        await using var ledger = (IAttemptJournalStore)NewLedgerStore();
        await ledger.MigrateAsync();
        await ledger.WriteIntentsAsync("dead", [Intent("req-dead", 50_000, reservation.Id)], Time.GetUtcNow()); // $0.25 at its worst case

        Time.Advance(Ttl);
        Assert.Equal(1, await Store.ReconcileExpiredAsync(Time.GetUtcNow())); // nothing in the ledger yet: released
        Assert.Equal(0m, (await Usage(BudgetWindow.Day)).SpentUsd);

        Assert.Equal(1, await ledger.ReconcileIntentsAsync("alive", Time.GetUtcNow(), TimeSpan.FromSeconds(30), Price));
        Assert.Equal(0.25m, (await Usage(BudgetWindow.Day)).SpentUsd); // the outcome_unknown row's cost
        Assert.Equal(0m, (await Usage(BudgetWindow.Day)).ReservedUsd);
    }

    // Budget leases (issue 29): nano-dollars in the arguments, USD in the usage read back.
    private const long Nanos = BudgetMoney.NanosPerUsd;

    private IBudgetLeaseStore Leases => (IBudgetLeaseStore)Store;

    private static BudgetLimit Monthly(decimal cap) => new("key:k1", "key 'team-a'", BudgetWindow.Month, cap);

    [Fact]
    public async Task A_lease_takes_its_share_of_the_room_under_every_cap_and_other_reservations_see_it_held()
    {
        // Room under the day cap: $1 (the month's is $10). Slice: min(want $0.5, max(min $0.1, $1 × 0.25)) = $0.25.
        var granted = await Leases.GrowLeaseAsync("lse_a", create: true, "inst-1", [Daily(1m), Monthly(10m)], Nanos / 10, Nanos / 2, 0.25m, Time.GetUtcNow(), Time.GetUtcNow() + Ttl);
        Assert.Equal(Nanos / 4, granted);
        Assert.Equal(0.25m, (await Usage(BudgetWindow.Day)).ReservedUsd);
        Assert.Equal(0.25m, (await Usage(BudgetWindow.Month)).ReservedUsd);

        // Another process: $0.80 does not fit beside the slice ($0.25 + $0.80 > $1), $0.75 does.
        await using var other = NewBudgetStore();
        Assert.False((await other.ReserveAsync("req-b", [Daily(1m)], 0.8m, Time.GetUtcNow(), Ttl)).Succeeded);
        Assert.True((await other.ReserveAsync("req-c", [Daily(1m)], 0.75m, Time.GetUtcNow(), Ttl)).Succeeded);

        // Nothing left: growing by at least $0.01 is refused; a renewal (min 0) grants nothing but keeps the lease.
        Assert.Null(await Leases.GrowLeaseAsync("lse_a", create: false, "inst-1", [Daily(1m), Monthly(10m)], Nanos / 100, Nanos / 2, 0.25m, Time.GetUtcNow(), Time.GetUtcNow() + Ttl));
        Assert.Equal(0, await Leases.GrowLeaseAsync("lse_a", create: false, "inst-1", [Daily(1m), Monthly(10m)], 0, Nanos / 2, 0.25m, Time.GetUtcNow(), Time.GetUtcNow() + Ttl));

        // Giving $0.10 back and closing: nothing held, nothing spent.
        Assert.Equal(0, await Leases.ShrinkLeaseAsync("lse_a", Nanos / 10, Time.GetUtcNow() + Ttl)); // nothing charged to it yet
        Assert.Equal(0.9m, (await Usage(BudgetWindow.Day)).ReservedUsd); // 0.15 + 0.75
        await Leases.CloseLeasesAsync(["lse_a"], Time.GetUtcNow());
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0m, 0.75m), await Usage(BudgetWindow.Day)); // req-c's
        Assert.Equal(0m, (await Usage(BudgetWindow.Month)).ReservedUsd);
        Assert.Null(await Leases.ShrinkLeaseAsync("lse_a", 0, Time.GetUtcNow() + Ttl)); // closed: not to be used again
        Assert.Null(await Leases.GrowLeaseAsync("lse_a", create: false, "inst-1", [Daily(1m), Monthly(10m)], 0, Nanos / 2, 0.25m, Time.GetUtcNow(), Time.GetUtcNow() + Ttl));
    }

    [Fact]
    public async Task Records_journaled_against_a_lease_are_charged_to_it_in_their_ledger_batch_and_after_it_closed_to_the_counters()
    {
        await Leases.GrowLeaseAsync("lse_b", create: true, "inst-1", [Daily(1m)], 0, Nanos / 2, 1m, Time.GetUtcNow(), Time.GetUtcNow() + Ttl); // $0.5
        await using var ledger = (IAttemptJournalStore)NewLedgerStore();
        await ledger.MigrateAsync();
        var first = Intent("req-1", 1000, "lse_b");
        var second = Intent("req-2", 1000, "lse_b");
        var unleased = Intent("req-3", 1000, null);
        await ledger.WriteIntentsAsync("inst-1", [first, second, unleased], Time.GetUtcNow());

        await ledger.WriteBatchAsync([Record("req-1", 0.125m) with { Id = first.Id }, Record("req-3", 0.5m) with { Id = unleased.Id }]);
        var usage = await Usage(BudgetWindow.Day);
        Assert.Equal(0.125m, usage.SpentUsd); // the leased record only
        Assert.Equal(0.375m, usage.ReservedUsd); // 0.5 − 0.125: spent + held is still the slice

        await Leases.CloseLeasesAsync(["lse_b"], Time.GetUtcNow());
        Assert.Equal(0.125m, (await Usage(BudgetWindow.Day)).SpentUsd);
        Assert.Equal(0m, (await Usage(BudgetWindow.Day)).ReservedUsd);

        // A request still finishing when its lease closed: its record is charged to the counters directly.
        await ledger.WriteBatchAsync([Record("req-2", 0.0625m) with { Id = second.Id }]);
        Assert.Equal(0.1875m, (await Usage(BudgetWindow.Day)).SpentUsd); // 0.125 + 0.0625
        Assert.Equal(0m, (await Usage(BudgetWindow.Day)).ReservedUsd);
    }

    [Fact]
    public async Task A_record_dearer_than_the_whole_slice_grows_the_held_money_so_other_processes_see_the_overshoot()
    {
        await Leases.GrowLeaseAsync("lse_c", create: true, "inst-1", [Daily(1m)], 0, Nanos / 10, 1m, Time.GetUtcNow(), Time.GetUtcNow() + Ttl); // $0.1
        await using var ledger = (IAttemptJournalStore)NewLedgerStore();
        await ledger.MigrateAsync();
        var intent = Intent("req-1", 1000, "lse_c");
        await ledger.WriteIntentsAsync("inst-1", [intent], Time.GetUtcNow());
        await ledger.WriteBatchAsync([Record("req-1", 0.25m) with { Id = intent.Id }]); // a lying upstream: $0.25 against a $0.1 slice

        var usage = await Usage(BudgetWindow.Day);
        Assert.Equal(0.25m, usage.SpentUsd);
        Assert.Equal(0m, usage.ReservedUsd);
        Assert.False((await Store.ReserveAsync("req-2", [Daily(1m)], 0.76m, Time.GetUtcNow(), Ttl)).Succeeded); // 0.25 + 0.76 > 1
        Assert.True((await Store.ReserveAsync("req-3", [Daily(1m)], 0.75m, Time.GetUtcNow(), Ttl)).Succeeded);
    }

    [Fact]
    public async Task A_dead_processs_lease_is_reclaimed_when_it_expires_and_its_lost_attempts_are_charged_as_outcome_unknown()
    {
        await Leases.GrowLeaseAsync("lse_d", create: true, "dead", [Daily(1m)], 0, Nanos, 1m, Time.GetUtcNow(), Time.GetUtcNow() + TimeSpan.FromSeconds(30)); // $1
        await using var ledger = (IAttemptJournalStore)NewLedgerStore();
        await ledger.MigrateAsync();
        var answered = Intent("req-1", 1000, "lse_d");
        var lost = Intent("req-2", 50_000, "lse_d"); // $0.25 at its worst case: 50,000 output tokens × $5/MTok
        await ledger.WriteIntentsAsync("dead", [answered, lost], Time.GetUtcNow());
        await ledger.WriteBatchAsync([Record("req-1", 0.125m) with { Id = answered.Id }]);

        // Not expired yet: nothing reclaimed; then the process is gone for 31 s. Reclaimed: charged its record's 0.125; the
        // unspent 1 − 0.125 = 0.875 stays held for one more lease life (30 s) for records still to come.
        Assert.Equal(0, await Store.ReconcileExpiredAsync(Time.GetUtcNow()));
        Time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(1, await Store.ReconcileExpiredAsync(Time.GetUtcNow()));
        Assert.Equal(0.125m, (await Usage(BudgetWindow.Day)).SpentUsd);
        Assert.Equal(0.875m, (await Usage(BudgetWindow.Day)).ReservedUsd);

        Assert.Equal(1, await ledger.ReconcileIntentsAsync("alive", Time.GetUtcNow(), TimeSpan.FromSeconds(30), Price));
        Assert.Equal(0.375m, (await Usage(BudgetWindow.Day)).SpentUsd); // 0.125 + the outcome_unknown row's 0.25
        Assert.Equal(0.625m, (await Usage(BudgetWindow.Day)).ReservedUsd); // drawn from the held tail: 0.875 − 0.25

        // One lease life after the reclaim the sweep releases the rest.
        Time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(1, await Store.ReconcileExpiredAsync(Time.GetUtcNow()));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0.375m, 0m), await Usage(BudgetWindow.Day));
    }

    [Fact]
    public async Task Attempts_of_a_dead_process_reconciled_before_its_lease_expires_are_charged_to_the_lease()
    {
        await Leases.GrowLeaseAsync("lse_e", create: true, "dead", [Daily(1m)], 0, Nanos, 1m, Time.GetUtcNow(), Time.GetUtcNow() + Ttl); // $1
        await using var ledger = (IAttemptJournalStore)NewLedgerStore();
        await ledger.MigrateAsync();
        await ledger.WriteIntentsAsync("dead", [Intent("req-1", 50_000, "lse_e")], Time.GetUtcNow()); // $0.25 at its worst case
        Time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(1, await ledger.ReconcileIntentsAsync("alive", Time.GetUtcNow(), TimeSpan.FromSeconds(30), Price));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0.25m, 0.75m), await Usage(BudgetWindow.Day));

        // Reclaimed at its expiry: charged 0.25, its unspent 0.75 held for one more lease life (its TTL), then released.
        Time.Advance(Ttl);
        Assert.Equal(1, await Store.ReconcileExpiredAsync(Time.GetUtcNow()));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0.25m, 0.75m), await Usage(BudgetWindow.Day));
        Time.Advance(Ttl);
        Assert.Equal(1, await Store.ReconcileExpiredAsync(Time.GetUtcNow()));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0.25m, 0m), await Usage(BudgetWindow.Day));
    }

    /// <summary>Prices a record with the 4.x test price book at its timestamp (Claude Haiku 4.5: $1 / $5 per MTok).</summary>
    private static LedgerRecord Price(LedgerRecord record) =>
        record with { Cost = TestPrices.Tiers4x.Cost(record.RoutedModel, record.Usage, record.Timestamp) };

    /// <summary>An attempt's intent on Claude Haiku 4.5 whose worst case is <paramref name="outputTokens"/> of output and no input.</summary>
    private LedgerIntent Intent(string requestId, long outputTokens, string? reservationId) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        CreatedAt = Time.GetUtcNow(),
        RequestId = requestId,
        ReservationId = reservationId,
        RequestedModel = "claude-haiku-4-5",
        RoutedModel = "claude-haiku-4-5",
        OutputTokens = outputTokens,
    };

    protected Task<BudgetUsage> Usage(BudgetWindow window) => Store.GetUsageAsync("key:k1", window, Time.GetUtcNow());

    protected LedgerRecord Record(string requestId, decimal cost) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        Timestamp = Time.GetUtcNow(),
        RequestId = requestId,
        RequestedModel = "claude-haiku-4-5",
        RoutedModel = "claude-haiku-4-5",
        Usage = new TokenUsage(10, 10),
        Cost = new CostBreakdown(cost, 0m, 0m, 0m, 0m),
        HttpStatus = 200,
    };
}
