using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Ledger;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// <see cref="SqliteBudgetStore"/> at the edges the <c>budgets-sqlite</c> mutation run found untested (docs/testing.md
/// "Eleventh session"): late settlements of reclaimed reservations, attempts reconciled after a reclaim, a lease's records
/// charged over two batches, a reclaimed lease's held tail drawn by two records of one batch, a record of a lease purged
/// long ago, lease intents an earlier version wrote to the <c>ledger_intents</c> table, two overruns booked on one row,
/// and a lease over a limit named twice. Everything goes through the stores' methods (the budget store's, and the
/// ledger's batch, reconciliation and settlement in the same file), so it holds whatever the store's internals become.
/// Money is worked by hand in the comments: nano-dollars in the lease calls, USD in what is read back; one $1 day cap
/// unless said otherwise.
/// </summary>
public sealed class SqliteBudgetStoreReclaimSurvivorTests() : BudgetAndLedgerFileFixture("modelmix-budget-reclaim-survivor-tests")
{
    private const long Nanos = BudgetMoney.NanosPerUsd;
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan LeaseLife = TimeSpan.FromSeconds(30);
    private static readonly DateTimeOffset T0 = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Day0 = new(2026, 3, 14, 0, 0, 0, TimeSpan.Zero);

    private static BudgetLimit Daily(decimal cap) => new("key:k1", "key 'team-a'", BudgetWindow.Day, cap);

    private Task<BudgetUsage> Usage() => Store.GetUsageAsync("key:k1", BudgetWindow.Day, T0);

    [Fact]
    public async Task A_late_settlement_of_a_reclaimed_reservation_does_not_release_its_hold_a_second_time()
    {
        // req-a held $0.4 and was reclaimed (nothing recorded: charged 0, the 0.4 released); req-b then holds $0.3.
        var a = (await Store.ReserveAsync("req-a", [Daily(1m)], 0.4m, T0, Ttl)).Reservation!;
        Assert.Equal(1, await Store.ReconcileExpiredAsync(T0 + Ttl));
        Assert.True((await Store.ReserveAsync("req-b", [Daily(1m)], 0.3m, T0 + Ttl, Ttl)).Succeeded);

        // req-a was only slow: settling $0.1 charges it and leaves req-b's 0.3 held (releasing 0.4 again would show 0 held).
        await Store.SettleAsync(a, 0.1m);

        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.1m, 0.3m), await Usage());
    }

    [Fact]
    public async Task A_late_settlement_in_the_ledger_batch_of_a_reclaimed_reservation_does_not_release_its_hold_a_second_time()
    {
        // As above, the settlement made by the ledger's batch with the request's record ($0.1) and no overrun.
        var a = (await Store.ReserveAsync("req-a", [Daily(1m)], 0.4m, T0, Ttl)).Reservation!;
        Assert.Equal(1, await Store.ReconcileExpiredAsync(T0 + Ttl)); // the ledger has no row of req-a yet: charged 0
        Assert.True((await Store.ReserveAsync("req-b", [Daily(1m)], 0.3m, T0 + Ttl, Ttl)).Succeeded);
        var record = Record("req-a", 0.1m);

        // due = 0.1 recorded − 0 accounted by the reclaim = 0.1; chargeable: nothing free + room 1 + 0.4 (its hold, the
        // slack) − 0 spent − 0.3 held = 1.1, so all 0.1 is charged and nothing is overrun (the row's overrun stays empty).
        await Ledger.CommitAsync([record], [new ReservationSettlement(a.Id, "req-a")]);

        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.1m, 0.3m), await Usage());
        Assert.Equal(new Dictionary<string, decimal?> { [record.Id] = null }, await OverrunsById());
    }

    [Fact]
    public async Task A_late_settlement_in_the_ledger_batch_of_a_reclaimed_reservation_charges_what_came_after_the_reclaim_up_to_cap_and_hold()
    {
        // req-a holds $0.1; its first attempt ($0.05) is in the ledger when the sweep reclaims it: charged 0.05
        // (chargeable 0.1 free + room 1 + 0.1 − 0 − 0.1 = 1.1), the 0.1 released, 0.05 accounted for.
        var a = (await Store.ReserveAsync("req-a", [Daily(1m)], 0.1m, T0, Ttl)).Reservation!;
        var first = Record("req-a", 0.05m);
        await Ledger.WriteBatchAsync([first]);
        Assert.Equal(1, await Store.ReconcileExpiredAsync(T0 + Ttl));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.05m, 0m), await Usage());

        // Another request then spends $0.9: spent 0.95.
        var other = (await Store.ReserveAsync("req-other", [Daily(1m)], 0.9m, T0 + Ttl, Ttl)).Reservation!;
        await Store.SettleAsync(other, 0.9m);

        // req-a was only slow: its second attempt ($0.25) and its settlement in one batch. Recorded 0.05 + 0.25 = 0.3, of
        // which the reclaim accounted for 0.05: due 0.25. Nothing is held for it any more (free 0); room up to the cap plus
        // its hold: 1 + 0.1 − 0.95 − 0 = 0.15. Charged 0.15 (spent 1.1 = cap + its hold); 0.25 − 0.15 = 0.1 is the overrun,
        // booked on the request's last priced row (the second attempt's).
        var second = Record("req-a", 0.25m);
        await Ledger.CommitAsync([second], [new ReservationSettlement(a.Id, "req-a")]);

        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 1.1m, 0m), await Usage());
        Assert.Equal(new Dictionary<string, decimal?> { [first.Id] = null, [second.Id] = 0.1m }, await OverrunsById());
    }

    [Fact]
    public async Task An_unpriced_attempt_reconciled_after_a_reclaim_charges_what_is_left_of_the_hold_and_a_late_settlement_nothing_more()
    {
        // req-a holds $0.9; one attempt ($0.1) is recorded, another is in flight when its process dies.
        var a = (await Store.ReserveAsync("req-a", [Daily(1m)], 0.9m, T0, Ttl)).Reservation!;
        await Ledger.WriteBatchAsync([Record("req-a", 0.1m)]);
        await Ledger.WriteIntentsAsync("dead", [BudgetTestRecords.Intent("req-a", a.Id, T0)], T0);

        // The sweep reclaims the hold first: charged the 0.1 recorded, the 0.9 released, 0.1 accounted for.
        Assert.Equal(1, await Store.ReconcileExpiredAsync(T0 + Ttl));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.1m, 0m), await Usage());

        // The lost attempt is reconciled unpriced (its model has no price) with 1,000 output tokens: it is charged what is
        // left of the hold, 0.9 − 0.1 = 0.8 (chargeable: room 1 + 0.9 − 0.1 − 0 = 1.8). Spent 0.9, as if settled at the hold.
        Assert.Equal(1, await Ledger.ReconcileIntentsAsync("alive", T0 + Ttl, TimeSpan.FromSeconds(30), record => record with { Cost = null }));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.9m, 0m), await Usage());

        // The request was only slow after all: settling it at the hold charges nothing more (0.9 − 0.9 accounted for).
        await Store.SettleAsync(a, 0.9m);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.9m, 0m), await Usage());
    }

    [Fact]
    public async Task A_lease_charged_in_a_second_batch_is_charged_only_that_batchs_records()
    {
        Assert.Equal(Nanos / 2, await Store.GrowLeaseAsync("lse_two", create: true, "inst-1", [Daily(1m)], 0, Nanos / 2, 1m, T0, T0 + Ttl));
        var first = BudgetTestRecords.Intent("req-1", "lse_two", T0);
        var second = BudgetTestRecords.Intent("req-2", "lse_two", T0);
        await Ledger.WriteIntentsAsync("inst-1", [first, second], T0);

        await Ledger.WriteBatchAsync([Record("req-1", 0.125m, first.Id)]);
        await Ledger.WriteBatchAsync([Record("req-2", 0.0625m, second.Id)]);

        // Spent 0.125 + 0.0625 = 0.1875 of the 0.5 slice; held the rest, 0.3125.
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.1875m, 0.3125m), await Usage());
        await Store.CloseLeasesAsync(["lse_two"], T0);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.1875m, 0m), await Usage());
    }

    [Fact]
    public async Task Two_records_of_one_batch_draw_a_reclaimed_leases_tail_in_order_then_the_room_and_the_rest_is_overrun()
    {
        // Another request holds $0.4; the lease takes $0.5 (room 0.6, share 1, want 0.5) for a 30 s life, then its process
        // stalls and the sweep reclaims it: nothing charged, its 0.5 kept held as its tail. Held 0.9, room 0.1.
        Assert.True((await Store.ReserveAsync("req-other", [Daily(1m)], 0.4m, T0, Ttl)).Succeeded);
        Assert.Equal(Nanos / 2, await Store.GrowLeaseAsync("lse_tail", create: true, "slow", [Daily(1m)], 0, Nanos / 2, 1m, T0, T0 + LeaseLife));
        var first = BudgetTestRecords.Intent("req-1", "lse_tail", T0);
        var second = BudgetTestRecords.Intent("req-2", "lse_tail", T0);
        await Ledger.WriteIntentsAsync("slow", [first, second], T0);
        Assert.Equal(1, await Store.ReconcileExpiredAsync(T0 + LeaseLife + TimeSpan.FromSeconds(1)));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0.9m), await Usage());

        // One batch, in order: $0.375 — chargeable: tail 0.5 + room 0.1 = 0.6, charged in full, drawn from the tail (0.125
        // left): spent 0.375, held 0.525. Then $0.25 — chargeable: tail 0.125 + room 1 − 0.375 − 0.525 = 0.1 → 0.225
        // charged (0.125 drawn from the tail, 0.1 from the room), overrun 0.025: spent 0.6, held 0.4 (req-other's).
        await Ledger.WriteBatchAsync([Record("req-1", 0.375m, first.Id), Record("req-2", 0.25m, second.Id)]);

        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.6m, 0.4m), await Usage());
        Assert.Equal(new Dictionary<string, decimal?> { ["req-1"] = null, ["req-2"] = 0.025m }, await OverrunsByRequest());

        // The tail is all drawn: one lease life after the reclaim the sweep has nothing of it left to release.
        Assert.Equal(0, await Store.ReconcileExpiredAsync(T0 + (2 * LeaseLife) + TimeSpan.FromSeconds(1)));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.6m, 0.4m), await Usage());
    }

    [Fact]
    public async Task A_record_of_a_lease_purged_long_ago_is_stored_and_charged_to_nothing()
    {
        Assert.Equal(Nanos / 2, await Store.GrowLeaseAsync("lse_gone", create: true, "inst-1", [Daily(1m)], 0, Nanos / 2, 1m, T0, T0 + Ttl));
        var intent = BudgetTestRecords.Intent("req-1", "lse_gone", T0);
        await Ledger.WriteIntentsAsync("inst-1", [intent], T0);
        await Store.CloseLeasesAsync(["lse_gone"], T0); // closed with nothing charged: its row is kept for the retention
        Assert.Equal(0, await Store.ReconcileExpiredAsync(T0 + SqliteBudgetStore.ReclaimedRetention + TimeSpan.FromTicks(1))); // purged

        // Its request's record commits (very) late: stored as it is, charged to no counter, no overrun.
        var record = Record("req-1", 0.25m, intent.Id);
        await Ledger.WriteBatchAsync([record]);

        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0m), await Usage());
        Assert.Equal(new Dictionary<string, decimal?> { [record.Id] = null }, await OverrunsById());
    }

    [Fact]
    public async Task Lease_intents_an_earlier_version_wrote_to_the_table_charge_their_records_to_the_lease()
    {
        Assert.Equal(Nanos / 2, await Store.GrowLeaseAsync("lse_old", create: true, "inst-1", [Daily(1m)], 0, Nanos / 2, 1m, T0, T0 + Ttl));

        // A ledger that wrote no intent of its own (so none in its files): the leased record is found in the table, the
        // other table intent names no reservation. Charged: 0.125 of the 0.5 slice; the unleased 0.5 is no lease's.
        InsertTableIntent("tbl-1", "req-1", "lse_old");
        InsertTableIntent("tbl-2", "req-2", null);
        await Ledger.WriteBatchAsync([Record("req-1", 0.125m, "tbl-1"), Record("req-2", 0.5m, "tbl-2")]);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.125m, 0.375m), await Usage());

        // Now one record's intent is in this ledger's files and the other's in the table, in one batch: both are charged,
        // 0.0625 each: spent 0.125 + 0.125 = 0.25, held 0.5 − 0.25 = 0.25.
        var inFile = BudgetTestRecords.Intent("req-3", "lse_old", T0);
        await Ledger.WriteIntentsAsync("inst-1", [inFile], T0);
        InsertTableIntent("tbl-4", "req-4", "lse_old");
        await Ledger.WriteBatchAsync([Record("req-3", 0.0625m, inFile.Id), Record("req-4", 0.0625m, "tbl-4")]);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.25m, 0.25m), await Usage());
    }

    [Fact]
    public async Task Two_lease_intents_an_earlier_version_wrote_to_the_table_charge_both_records_of_one_batch()
    {
        Assert.Equal(Nanos / 2, await Store.GrowLeaseAsync("lse_old", create: true, "inst-1", [Daily(1m)], 0, Nanos / 2, 1m, T0, T0 + Ttl));

        // This ledger has intent files (an intent of another request, no reservation), which know neither record: both go
        // to the table lookup, which finds two rows naming the lease. Charged 0.125 + 0.0625 = 0.1875 of the 0.5 slice,
        // held the rest, 0.3125. (Sending only one record to the lookup, or keeping only one of its rows, would charge
        // 0.125 or 0.0625.)
        await Ledger.WriteIntentsAsync("inst-1", [BudgetTestRecords.Intent("req-0", null, T0)], T0);
        InsertTableIntent("tbl-1", "req-1", "lse_old");
        InsertTableIntent("tbl-2", "req-2", "lse_old");
        await Ledger.WriteBatchAsync([Record("req-1", 0.125m, "tbl-1"), Record("req-2", 0.0625m, "tbl-2")]);

        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0.1875m, 0.3125m), await Usage());
    }

    [Fact]
    public async Task Two_holds_of_one_request_reclaimed_book_both_overruns_on_its_row()
    {
        // A second overrun booked on a row that already carries one is added to it, not written over it. Only two holds of
        // one request show it through the store's methods: a reclaim books its overrun on the request's last priced row,
        // and each hold is charged what its request recorded. (The proxy takes one hold per request; a library caller may
        // reserve twice under one request id.) req-a holds $0.1 twice; its one attempt cost $1.5 (an upstream that charged
        // far beyond the holds), then its process died. Held 0.2.
        Assert.True((await Store.ReserveAsync("req-a", [Daily(1m)], 0.1m, T0, Ttl)).Succeeded);
        Assert.True((await Store.ReserveAsync("req-a", [Daily(1m)], 0.1m, T0, Ttl)).Succeeded);
        var row = Record("req-a", 1.5m);
        await Ledger.WriteBatchAsync([row]);

        // The sweep reclaims both, each charged the 1.5 its request recorded, in turn:
        // the first: chargeable = 0.1 free + room (1 + 0.1 slack − 0 spent − 0.2 held) = 1.0 → charged 1.0, overrun 0.5;
        //   its 0.1 released: spent 1.0, held 0.1.
        // the second: chargeable = 0.1 free + room (1 + 0.1 − 1.0 − 0.1) = 0.1 → charged 0.1, overrun 1.4; spent 1.1, held 0.
        // Both overruns land on the request's one priced row: 0.5 + 1.4 = 1.9 (the second alone would show 1.4).
        Assert.Equal(2, await Store.ReconcileExpiredAsync(T0 + Ttl));

        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 1.1m, 0m), await Usage());
        Assert.Equal(new Dictionary<string, decimal?> { [row.Id] = 1.9m }, await OverrunsById());
    }

    [Fact]
    public async Task A_lease_over_a_limit_named_twice_holds_its_slice_once()
    {
        // $0.5 held twice in one counter would show $1 held (and its item rows would clash).
        Assert.Equal(Nanos / 2, await Store.GrowLeaseAsync("lse_twice", create: true, "inst-1", [Daily(1m), Daily(1m)], 0, Nanos / 2, 1m, T0, T0 + Ttl));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0.5m), await Usage());

        await Store.CloseLeasesAsync(["lse_twice"], T0);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0m), await Usage());
    }

    /// <summary>An intent as an earlier version wrote it: a row of <c>ledger_intents</c>, not a line in a segment file.</summary>
    private void InsertTableIntent(string id, string requestId, string? leaseId)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DbPath, Pooling = false }.ToString());
        connection.Open();
        using var insert = connection.CreateCommand();
        insert.CommandText = """
            INSERT INTO ledger_intents (id, created_at, instance_id, reservation_id, request_id, requested_model, routed_model, attempt,
                effort_is_default, streaming, input_tokens, output_tokens)
            VALUES ($id, $at, 'old-version', $res, $r, 'claude-haiku-4-5', 'claude-haiku-4-5', 0, 1, 0, 100, 1024);
            """;
        insert.Parameters.AddWithValue("$id", id);
        insert.Parameters.AddWithValue("$at", SqliteLedgerSchema.ToStoredTimestamp(T0));
        insert.Parameters.AddWithValue("$res", (object?)leaseId ?? DBNull.Value);
        insert.Parameters.AddWithValue("$r", requestId);
        insert.ExecuteNonQuery();
    }

    private Task<Dictionary<string, decimal?>> OverrunsById() => Overruns(row => row.Id);

    private Task<Dictionary<string, decimal?>> OverrunsByRequest() => Overruns(row => row.RequestId);

    /// <summary>Each ledger row's <c>overrun_usd</c>, keyed as <paramref name="key"/> says.</summary>
    private async Task<Dictionary<string, decimal?>> Overruns(Func<LedgerRecord, string> key)
    {
        var overruns = new Dictionary<string, decimal?>();
        await foreach (var row in Ledger.ReadAsync(new LedgerQuery()))
        {
            overruns[key(row)] = row.OverrunUsd;
        }

        return overruns;
    }

    private static LedgerRecord Record(string requestId, decimal cost, string? id = null) => BudgetTestRecords.Record(requestId, cost, T0, id: id);
}
