using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Postgres;
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
}
