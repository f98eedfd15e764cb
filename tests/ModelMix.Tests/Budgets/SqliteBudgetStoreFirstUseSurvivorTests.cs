using Microsoft.Data.Sqlite;
using ModelMix.Budgets;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// A <see cref="SqliteBudgetStore"/> over a file nobody migrated creates its tables on its first use, whichever operation
/// that is (written from the <c>budgets-sqlite</c> mutation run's survivors, docs/testing.md "Eleventh session": every
/// other test migrates first, so removing one operation's migration check, or inverting the check, left them green).
/// Each test opens a fresh file and calls one operation before anything else.
/// </summary>
public sealed class SqliteBudgetStoreFirstUseSurvivorTests : IAsyncLifetime
{
    private const long Nanos = BudgetMoney.NanosPerUsd;
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(15);
    private static readonly DateTimeOffset T0 = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Day0 = new(2026, 3, 14, 0, 0, 0, TimeSpan.Zero);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-budget-first-use-tests", Guid.NewGuid().ToString("N"));
    private SqliteBudgetStore _store = null!;

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        _store = new SqliteBudgetStore(Path.Combine(_folder, "ledger.db")); // never migrated
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private static BudgetLimit Daily(decimal cap) => new("key:k1", "key 'team-a'", BudgetWindow.Day, cap);

    [Fact]
    public async Task A_reservation_first()
    {
        Assert.True((await _store.ReserveAsync("req1", [Daily(1m)], 0.25m, T0, Ttl)).Succeeded);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0.25m), await _store.GetUsageAsync("key:k1", BudgetWindow.Day, T0));
    }

    [Fact]
    public async Task A_settlement_first_finds_nothing_to_settle()
    {
        var unknown = new BudgetReservation { Id = "res_unknown", RequestId = "req1", AmountUsd = 0.25m, CreatedAt = T0, ExpiresAt = T0 + Ttl, Limits = [Daily(1m)] };

        await _store.SettleAsync(unknown, 0.1m);

        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0m), await _store.GetUsageAsync("key:k1", BudgetWindow.Day, T0));
    }

    [Fact]
    public async Task A_sweep_first_reclaims_nothing()
    {
        Assert.Equal(0, await _store.ReconcileExpiredAsync(T0));
    }

    [Fact]
    public async Task A_usage_read_first_is_zero()
    {
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0m), await _store.GetUsageAsync("key:k1", BudgetWindow.Day, T0));
    }

    [Fact]
    public async Task A_lease_taken_first()
    {
        Assert.Equal(Nanos / 2, await _store.GrowLeaseAsync("lse_first", create: true, "inst-1", [Daily(1m)], 0, Nanos / 2, 1m, T0, T0 + Ttl));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0.5m), await _store.GetUsageAsync("key:k1", BudgetWindow.Day, T0));
    }

    [Fact]
    public async Task A_lease_shrunk_first_is_not_found()
    {
        Assert.Null(await _store.ShrinkLeaseAsync("lse_none", Nanos, T0 + Ttl));
    }

    [Fact]
    public async Task Leases_closed_first_close_nothing()
    {
        await _store.CloseLeasesAsync(["lse_none"], T0);

        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0m), await _store.GetUsageAsync("key:k1", BudgetWindow.Day, T0));
    }
}
