using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Ledger;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// A second overrun booked on a ledger row that already carries one is added to it, not written over it (the
/// <c>budgets-sqlite</c> survivor "<c>already</c> forced 0", docs/testing.md "Eleventh session"). Only two holds of one
/// request show it through the store's methods: the overrun of a reclaim is booked on the request's last priced row,
/// and each hold is charged what its request recorded. (The proxy takes one hold per request; a library caller may
/// reserve twice under one request id.) One file for the budget store and the ledger; a $1 day cap; money by hand.
/// </summary>
public sealed class SqliteBudgetStoreOverrunRowTests : IAsyncLifetime
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(15);
    private static readonly DateTimeOffset T0 = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Day0 = new(2026, 3, 14, 0, 0, 0, TimeSpan.Zero);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-budget-overrun-row-tests", Guid.NewGuid().ToString("N"));
    private SqliteBudgetStore _store = null!;
    private SqliteLedgerStore _ledger = null!;

    private string DbPath => Path.Combine(_folder, "ledger.db");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        _store = new SqliteBudgetStore(DbPath);
        await _store.MigrateAsync();
        _ledger = new SqliteLedgerStore(DbPath);
        await _ledger.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await _ledger.DisposeAsync();
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Two_holds_of_one_request_reclaimed_book_both_overruns_on_its_row()
    {
        // req-a holds $0.1 twice; its one attempt cost $1.5 (an upstream that charged far beyond the holds), then its
        // process died. Held 0.2.
        var limit = new BudgetLimit("key:k1", "key 'team-a'", BudgetWindow.Day, 1m);
        Assert.True((await _store.ReserveAsync("req-a", [limit], 0.1m, T0, Ttl)).Succeeded);
        Assert.True((await _store.ReserveAsync("req-a", [limit], 0.1m, T0, Ttl)).Succeeded);
        var row = BudgetTestRecords.Record("req-a", 1.5m, T0);
        await _ledger.WriteBatchAsync([row]);

        // The sweep reclaims both, each charged the 1.5 its request recorded, in turn:
        // the first: chargeable = 0.1 free + room (1 + 0.1 slack − 0 spent − 0.2 held) = 1.0 → charged 1.0, overrun 0.5;
        //   its 0.1 released: spent 1.0, held 0.1.
        // the second: chargeable = 0.1 free + room (1 + 0.1 − 1.0 − 0.1) = 0.1 → charged 0.1, overrun 1.4; spent 1.1, held 0.
        // Both overruns land on the request's one priced row: 0.5 + 1.4 = 1.9 (the second alone would show 1.4).
        Assert.Equal(2, await _store.ReconcileExpiredAsync(T0 + Ttl));

        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 1.1m, 0m), await _store.GetUsageAsync("key:k1", BudgetWindow.Day, T0));
        var stored = Assert.Single(await ReadAllAsync());
        Assert.Equal(row.Id, stored.Id);
        Assert.Equal(1.9m, stored.OverrunUsd);
    }

    private async Task<List<LedgerRecord>> ReadAllAsync()
    {
        var rows = new List<LedgerRecord>();
        await foreach (var row in _ledger.ReadAsync(new LedgerQuery()))
        {
            rows.Add(row);
        }

        return rows;
    }
}
