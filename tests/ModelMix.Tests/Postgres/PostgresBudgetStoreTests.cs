using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Postgres;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Tests.Budgets;

namespace ModelMix.Tests.Postgres;

/// <summary>The budget contract on a real PostgreSQL server.</summary>
public sealed class PostgresBudgetStoreTests : BudgetStoreContractTests
{
    private readonly PostgresTestDatabase _db = new();

    protected override Task CreateDatabaseAsync() => _db.CreateAsync();

    protected override Task DeleteDatabaseAsync() => PostgresTestDatabase.DeleteAsync();

    protected override IBudgetStore NewBudgetStore() => new PostgresBudgetStore(_db.ConnectionString);

    protected override ILedgerStore NewLedgerStore() => new PostgresLedgerStore(_db.ConnectionString);

    [Fact]
    public async Task Concurrent_reservations_from_three_replicas_on_overlapping_budgets_never_exceed_any_cap()
    {
        var at = Time.GetUtcNow();
        var replicas = Enumerable.Range(0, 3).Select(_ => NewBudgetStore()).ToArray();
        var daily = new BudgetLimit("key:k1", "key 'team-a'", BudgetWindow.Day, 1m);
        var monthly = new BudgetLimit("key:k1", "key 'team-a'", BudgetWindow.Month, 1.5m);
        var session = new BudgetLimit("session:s1", "session 's1'", BudgetWindow.Total, 0.9m);

        // Different orders of the same limits on different replicas: the store must neither deadlock nor overspend.
        var results = await Task.WhenAll(Enumerable.Range(0, 90).Select(i => replicas[i % 3].ReserveAsync(
            "req" + i,
            (i % 2 == 0 ? new[] { daily, monthly, session } : new[] { session, monthly, daily }),
            0.1m,
            at,
            Ttl)));

        Assert.Equal(9, results.Count(result => result.Succeeded));
        Assert.Equal(0.9m, (await Store.GetUsageAsync("session:s1", BudgetWindow.Total, at)).ReservedUsd);
        await Task.WhenAll(results.Where(result => result.Succeeded).Select((result, i) => replicas[i % 3].SettleAsync(result.Reservation!, 0.05m)));
        var day = await Store.GetUsageAsync("key:k1", BudgetWindow.Day, at);
        Assert.Equal(0.45m, day.SpentUsd);
        Assert.Equal(0m, day.ReservedUsd);
        foreach (var replica in replicas)
        {
            await replica.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_hot_key_reserved_on_three_replicas_and_settled_in_their_ledger_batches_completes_and_charges_exactly_the_ledger()
    {
        // Issue 29: one budgeted key through 3 replicas, each settling many holds of the one counter per ledger batch
        // while the others reserve against it. Every request must complete (no deadlock left to the sweep) and the
        // counter must hold exactly what the ledger does.
        var at = Time.GetUtcNow();
        var limit = new BudgetLimit("key:k1", "key 'team-a'", BudgetWindow.Day, 1000m);
        var budgets = Enumerable.Range(0, 3).Select(_ => NewBudgetStore()).ToArray();
        var stores = Enumerable.Range(0, 3).Select(_ => NewLedgerStore()).ToArray();
        foreach (var store in stores)
        {
            await store.MigrateAsync();
        }

        var ledgers = stores.Select(store => new BufferedLedger(store, new LedgerOptions { FlushInterval = TimeSpan.FromMilliseconds(5) }, TimeProvider.System, NullLogger<BufferedLedger>.Instance)).ToArray();
        const int Workers = 48;
        const int RequestsPerWorker = 20;
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            var replica = worker % 3;
            for (var i = 0; i < RequestsPerWorker; i++)
            {
                var requestId = $"req-{worker}-{i}";
                var result = await budgets[replica].ReserveAsync(requestId, [limit], 0.01m, at, Ttl);
                Assert.True(result.Succeeded);
                await ledgers[replica].RecordAsync(Record(requestId, 0.004m));
                await ((ISettlingLedger)ledgers[replica]).SettleAsync(new ReservationSettlement(result.Reservation!.Id, requestId));
            }
        })));

        foreach (var ledger in ledgers)
        {
            await ledger.DisposeAsync();
        }

        var usage = await Usage(BudgetWindow.Day);
        Assert.Equal(3.84m, usage.SpentUsd); // 48 workers × 20 requests × $0.004 = 960 × $0.004 = $3.84
        Assert.Equal(0m, usage.ReservedUsd);
        foreach (var budget in budgets)
        {
            await budget.DisposeAsync();
        }

        foreach (var store in stores)
        {
            await store.DisposeAsync();
        }
    }
}
