using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Budgets;

public sealed class SqliteBudgetStoreTests : IAsyncLifetime
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(15);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-budget-tests", Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 14, 23, 0, 0, TimeSpan.Zero));
    private SqliteBudgetStore _store = null!;

    private string DbPath => Path.Combine(_folder, "ledger.db");

    public async Task InitializeAsync()
    {
        _store = new SqliteBudgetStore(DbPath);
        await _store.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private static BudgetLimit Daily(decimal cap) => new("key:k1", "key 'team-a'", BudgetWindow.Day, cap);

    [Fact]
    public async Task Reservation_holds_money_and_settlement_replaces_it_with_the_real_cost()
    {
        var result = await _store.ReserveAsync("req1", [Daily(1m)], 0.4m, _time.GetUtcNow(), Ttl);
        Assert.True(result.Succeeded);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0m, 0.4m), await Usage(BudgetWindow.Day));

        await _store.SettleAsync(result.Reservation!, 0.123m);

        var usage = await Usage(BudgetWindow.Day);
        Assert.Equal(0.123m, usage.SpentUsd);
        Assert.Equal(0m, usage.ReservedUsd);
    }

    [Fact]
    public async Task Settling_zero_releases_the_reservation()
    {
        var result = await _store.ReserveAsync("req1", [Daily(1m)], 0.4m, _time.GetUtcNow(), Ttl);

        await _store.SettleAsync(result.Reservation!, 0m);
        await _store.SettleAsync(result.Reservation!, 0.5m); // settling twice changes nothing

        Assert.Equal(0m, (await Usage(BudgetWindow.Day)).SpentUsd);
        Assert.Equal(0m, (await Usage(BudgetWindow.Day)).ReservedUsd);
    }

    [Fact]
    public async Task Reservation_that_would_exceed_a_cap_is_refused_and_holds_nothing()
    {
        var first = await _store.ReserveAsync("req1", [Daily(1m)], 0.6m, _time.GetUtcNow(), Ttl);
        var monthly = new BudgetLimit("key:k1", "key 'team-a'", BudgetWindow.Month, 100m);

        var second = await _store.ReserveAsync("req2", [monthly, Daily(1m)], 0.6m, _time.GetUtcNow(), Ttl);

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
        Assert.True((await _store.ReserveAsync("req1", [Daily(1m)], 0.5m, _time.GetUtcNow(), Ttl)).Succeeded);
        Assert.True((await _store.ReserveAsync("req2", [Daily(1m)], 0.5m, _time.GetUtcNow(), Ttl)).Succeeded);
        Assert.False((await _store.ReserveAsync("req3", [Daily(1m)], 0.000000001m, _time.GetUtcNow(), Ttl)).Succeeded);
    }

    [Fact]
    public async Task Daily_budget_resets_at_utc_midnight_but_total_does_not()
    {
        var total = new BudgetLimit("key:k1", "key 'team-a'", BudgetWindow.Total, 1.5m);
        var first = await _store.ReserveAsync("req1", [Daily(1m), total], 1m, _time.GetUtcNow(), Ttl);
        await _store.SettleAsync(first.Reservation!, 1m);
        Assert.False((await _store.ReserveAsync("req2", [Daily(1m)], 0.1m, _time.GetUtcNow(), Ttl)).Succeeded);

        _time.Advance(TimeSpan.FromHours(1)); // 2026-03-15T00:00Z

        Assert.True((await _store.ReserveAsync("req3", [Daily(1m)], 0.9m, _time.GetUtcNow(), Ttl)).Succeeded);
        var refused = await _store.ReserveAsync("req4", [total], 0.6m, _time.GetUtcNow(), Ttl);
        Assert.False(refused.Succeeded);
        Assert.Null(refused.Refusal!.ResetsAt);
        Assert.Equal(1m, refused.Refusal.SpentUsd);
    }

    [Fact]
    public async Task A_request_that_straddles_midnight_is_charged_to_the_day_it_started()
    {
        var reservation = (await _store.ReserveAsync("req1", [Daily(1m)], 0.5m, _time.GetUtcNow(), Ttl)).Reservation!;
        _time.Advance(TimeSpan.FromHours(2));

        await _store.SettleAsync(reservation, 0.2m);

        Assert.Equal(0m, (await Usage(BudgetWindow.Day)).SpentUsd);
        Assert.Equal(0.2m, (await _store.GetUsageAsync("key:k1", BudgetWindow.Day, _time.GetUtcNow().AddDays(-1))).SpentUsd);
    }

    [Fact]
    public async Task Concurrent_reservations_never_exceed_the_cap()
    {
        // Two stores on one file stand for two processes: SQLite's write lock (BEGIN IMMEDIATE) arbitrates between them.
        await using var other = new SqliteBudgetStore(DbPath);
        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            Task.Run(() => (i % 2 == 0 ? _store : other).ReserveAsync("req" + i, [Daily(1m)], 0.03m, _time.GetUtcNow(), Ttl))));

        Assert.Equal(33, results.Count(result => result.Succeeded)); // 33 × $0.03 = $0.99 ≤ $1 < 34 × $0.03
        await Task.WhenAll(results.Where(result => result.Succeeded).Select(result => Task.Run(() => _store.SettleAsync(result.Reservation!, 0.03m))));
        var usage = await Usage(BudgetWindow.Day);
        Assert.Equal(0.99m, usage.SpentUsd);
        Assert.Equal(0m, usage.ReservedUsd);
    }

    [Fact]
    public async Task Expired_reservation_of_a_dead_process_is_released_when_nothing_was_recorded()
    {
        await using (var crashed = new SqliteBudgetStore(DbPath))
        {
            Assert.True((await crashed.ReserveAsync("req-dead", [Daily(1m)], 0.9m, _time.GetUtcNow(), Ttl)).Succeeded);
        }

        Assert.Equal(0, await _store.ReconcileExpiredAsync(_time.GetUtcNow()));
        Assert.False((await _store.ReserveAsync("req2", [Daily(1m)], 0.5m, _time.GetUtcNow(), Ttl)).Succeeded);

        _time.Advance(Ttl);

        // The refused reservation reclaims what is expired and tries again.
        Assert.True((await _store.ReserveAsync("req3", [Daily(1m)], 0.5m, _time.GetUtcNow(), Ttl)).Succeeded);
        var usage = await Usage(BudgetWindow.Day);
        Assert.Equal(0m, usage.SpentUsd);
        Assert.Equal(0.5m, usage.ReservedUsd);
    }

    [Fact]
    public async Task Expired_reservation_is_charged_what_its_request_recorded_in_the_ledger()
    {
        var reservation = (await _store.ReserveAsync("req-dead", [Daily(1m)], 0.9m, _time.GetUtcNow(), Ttl)).Reservation!;
        await using (var ledger = new SqliteLedgerStore(DbPath))
        {
            await ledger.MigrateAsync();
            await ledger.WriteBatchAsync([Record("req-dead", 0.25m), Record("other", 0.5m)]);
        }

        _time.Advance(Ttl);
        Assert.Equal(1, await _store.ReconcileExpiredAsync(_time.GetUtcNow()));

        var usage = await Usage(BudgetWindow.Day);
        Assert.Equal(0.25m, usage.SpentUsd);
        Assert.Equal(0m, usage.ReservedUsd);

        // The "dead" request was only slow: its late settlement charges only what the reclaim did not.
        await _store.SettleAsync(reservation, 0.3m);
        Assert.Equal(0.3m, (await Usage(BudgetWindow.Day)).SpentUsd);
        Assert.Equal(0m, (await Usage(BudgetWindow.Day)).ReservedUsd);
    }

    [Fact]
    public async Task Budget_tables_do_not_touch_the_ledger_schema_version()
    {
        await using var ledger = new SqliteLedgerStore(DbPath);
        await ledger.MigrateAsync();
        await using var again = new SqliteBudgetStore(DbPath);
        await again.MigrateAsync();

        await using var connection = new SqliteConnection($"Data Source={DbPath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version;";
        Assert.Equal((long)SqliteLedgerStore.SchemaVersion, await command.ExecuteScalarAsync());
        command.CommandText = "SELECT version FROM modelmix_schema_versions WHERE component = 'budgets';";
        Assert.Equal(1L, await command.ExecuteScalarAsync());
    }

    private Task<BudgetUsage> Usage(BudgetWindow window) => _store.GetUsageAsync("key:k1", window, _time.GetUtcNow());

    private LedgerRecord Record(string requestId, decimal cost) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        Timestamp = _time.GetUtcNow(),
        RequestId = requestId,
        RequestedModel = "claude-haiku-4-5",
        RoutedModel = "claude-haiku-4-5",
        Usage = new TokenUsage(10, 10),
        Cost = new CostBreakdown(cost, 0m, 0m, 0m, 0m),
        HttpStatus = 200,
    };
}
