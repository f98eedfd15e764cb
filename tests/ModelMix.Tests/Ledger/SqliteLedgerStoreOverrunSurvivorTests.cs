using ModelMix.Budgets;
using ModelMix.Ledger;
using OverrunMeter = ModelMix.Tests.Budgets.BudgetStoreContractTests.OverrunMeter;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// Every lease overrun a <see cref="SqliteLedgerStore"/> batch books reaches the overrun metrics, not only the last one
/// (written from the <c>ledger-sqlite</c> mutation run's last real gap, docs/testing.md "Eleventh session": the contract
/// tests book two overruns in one batch without looking at the metrics, and look at the metrics for a batch of one, so
/// collecting the batch's overruns with <c>booked = []</c> instead of <c>(booked ??= []).Add(…)</c> left them green).
/// </summary>
public sealed class SqliteLedgerStoreOverrunSurvivorTests : IAsyncLifetime
{
    private const long Nanos = BudgetMoney.NanosPerUsd;
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(15);
    private static readonly DateTimeOffset T0 = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);

    // A model name of this test's own, so other tests' overruns (run in parallel) do not count here.
    private readonly string _model = "claude-haiku-4-5-" + Guid.NewGuid().ToString("N");
    private readonly TempDatabase _db = new();
    private SqliteBudgetStore _budgets = null!;
    private SqliteLedgerStore _ledger = null!;

    public async Task InitializeAsync()
    {
        _budgets = new SqliteBudgetStore(_db.FilePath);
        await _budgets.MigrateAsync();
        _ledger = new SqliteLedgerStore(_db.FilePath);
        await _ledger.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await _ledger.DisposeAsync();
        await _budgets.DisposeAsync();
        _db.Dispose();
    }

    private static BudgetLimit Daily(string key, decimal cap) => new(key, $"key '{key}'", BudgetWindow.Day, cap);

    [Fact]
    public async Task Two_lease_overruns_in_one_batch_are_both_counted()
    {
        using var meter = new OverrunMeter(_model);
        var records = await TwoOverrunningRecordsAsync();

        await _ledger.WriteBatchAsync(records);

        // 0.15 + 0.125 = 0.275 USD over two rows (see TwoOverrunningRecordsAsync); with only the last one kept: 1 row, 0.125.
        Assert.Equal(new Dictionary<string, decimal?> { ["req-1"] = 0.15m, ["req-2"] = 0.125m }, await OverrunsByRequestAsync());
        Assert.Equal(2, meter.Rows);
        Assert.Equal(0.275d, meter.Usd, 9);
    }

    [Fact]
    public async Task Lease_overruns_in_a_batch_that_also_settles_a_reservation_are_all_counted()
    {
        // A reservation of another key (cap $1, held $0.5) answered for $0.2: settled inside the same commit, within its
        // hold, so it books no overrun of its own, and the settlement must not drop the two lease overruns booked before it.
        var reservation = await _budgets.ReserveAsync("req-3", [Daily("key:k2", 1m)], 0.5m, T0, Ttl);
        Assert.True(reservation.Succeeded);
        using var meter = new OverrunMeter(_model);
        var records = await TwoOverrunningRecordsAsync();

        await _ledger.CommitAsync([.. records, Record("req-3", 0.2m)], [new ReservationSettlement(reservation.Reservation!.Id, "req-3")]);

        Assert.Equal(new Dictionary<string, decimal?> { ["req-1"] = 0.15m, ["req-2"] = 0.125m, ["req-3"] = null }, await OverrunsByRequestAsync());
        Assert.Equal(2, meter.Rows); // 0.15 + 0.125 = 0.275, as above
        Assert.Equal(0.275d, meter.Usd, 9);
        // key:k2 spent the settled 0.2, its hold released: nothing held.
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0.2m, 0m), await _budgets.GetUsageAsync("key:k2", BudgetWindow.Day, T0));
    }

    /// <summary>
    /// A lease that takes the whole $0.1 day cap of key:k1 and two records of it, journaled: $0.25 is charged the 0.1 and
    /// books 0.25 − 0.1 = 0.15 as overrun; $0.125 finds nothing left and books all 0.125.
    /// </summary>
    private async Task<LedgerRecord[]> TwoOverrunningRecordsAsync()
    {
        Assert.Equal(Nanos / 10, await _budgets.GrowLeaseAsync("lse_two", create: true, "inst-1", [Daily("key:k1", 0.1m)], 0, Nanos / 10, 1m, T0, T0 + Ttl));
        var first = Intent("req-1");
        var second = Intent("req-2");
        await ((IAttemptJournalStore)_ledger).WriteIntentsAsync("inst-1", [first, second], T0);
        return [Record("req-1", 0.25m) with { Id = first.Id }, Record("req-2", 0.125m) with { Id = second.Id }];
    }

    private static LedgerIntent Intent(string requestId) => ModelMix.Tests.Budgets.BudgetTestRecords.Intent(requestId, "lse_two", T0);

    private LedgerRecord Record(string requestId, decimal cost) => ModelMix.Tests.Budgets.BudgetTestRecords.Record(requestId, cost, T0) with { RoutedModel = _model };

    private async Task<Dictionary<string, decimal?>> OverrunsByRequestAsync()
    {
        var overruns = new Dictionary<string, decimal?>();
        await foreach (var row in _ledger.ReadAsync(LedgerQuery.All))
        {
            overruns[row.RequestId] = row.OverrunUsd;
        }

        return overruns;
    }
}
