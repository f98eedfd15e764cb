using System.Diagnostics;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Stores;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// <see cref="SqliteBudgetStore"/> on a file another connection holds the write lock of (<c>BEGIN IMMEDIATE</c> on a
/// connection of its own, as another process would): each write operation fails with a
/// <see cref="StoreUnavailableException"/> naming exactly that operation, reason <c>busy</c> (what the proxy answers 503
/// <c>overloaded_error</c> with <c>retry-after</c>, counted under that operation), once the store's short busy timeout
/// passes; reads go on (WAL readers are not blocked by a writer); and once the lock is released the same store works again.
/// The store-unavailable <c>catch</c> blocks the <c>budgets-sqlite</c> mutation runs never reached (docs/testing.md,
/// "Eleventh session"). Money is worked by hand in the cases: one $1 day cap; before the lock, a reservation of $0.25 and
/// a lease of $0.5 are held (0.75 held, 0 spent).
/// </summary>
public sealed class SqliteBudgetStoreBusyTests : IAsyncLifetime
{
    private const long Nanos = BudgetMoney.NanosPerUsd;
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan ShortBusyTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly DateTimeOffset T0 = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Day0 = new(2026, 3, 14, 0, 0, 0, TimeSpan.Zero);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-budget-busy-tests", Guid.NewGuid().ToString("N"));
    private SqliteBudgetStore _store = null!;
    private BudgetReservation _held = null!;

    private string DbPath => Path.Combine(_folder, "ledger.db");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        _store = new SqliteBudgetStore(DbPath, ShortBusyTimeout);
        await _store.MigrateAsync();

        // $0.25 held by req-held until T0 + 15 min; the lease takes $0.5 of the 0.75 room (want 0.5, share 1) until T0 + 30 min.
        _held = (await _store.ReserveAsync("req-held", [Daily()], 0.25m, T0, Ttl)).Reservation!;
        Assert.Equal(Nanos / 2, await _store.GrowLeaseAsync("lse_1", create: true, "inst-1", [Daily()], 0, Nanos / 2, 1m, T0, T0 + (2 * Ttl)));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0.75m), await Usage());
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>
    /// Each write operation with a store-unavailable <c>catch</c>: its name, the operation's name in the exception, and the
    /// usage (spent, held) once it has gone through after the lock is released and a last reservation of $0.125 was made.
    /// </summary>
    public static TheoryData<string, string, decimal, decimal> Operations => new()
    {
        // Reserve $0.1 for req-x: held 0.75 + 0.1 + 0.125 = 0.975.
        { "reserve", "budgets.reserve", 0m, 0.975m },

        // Settle req-held's $0.25 hold at $0.2: spent 0.2, held 0.75 − 0.25 + 0.125 = 0.625.
        { "settle", "budgets.settle", 0.2m, 0.625m },

        // Sweep at T0 + 15 min: req-held's reservation expired (no ledger in the file: charged 0, its 0.25 released), the
        // lease (until T0 + 30 min) not: held 0.5 + 0.125 = 0.625.
        { "reconcile", "budgets.reconcile", 0m, 0.625m },

        // Grow the lease by $0.125 (room 1 − 0.75 = 0.25, share 1, want 0.125): held 0.875 + 0.125 = 1 (exactly the cap).
        { "grow", "budgets.lease", 0m, 1m },

        // Shrink the lease by $0.25 (0.5 held, nothing spent: 0.25 given back): held 0.5 + 0.125 = 0.625.
        { "shrink", "budgets.lease", 0m, 0.625m },

        // Close the lease (nothing spent: its 0.5 released, nothing charged): held 0.25 + 0.125 = 0.375.
        { "close", "budgets.lease", 0m, 0.375m },
    };

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task A_write_on_a_file_another_connection_holds_fails_as_unavailable_naming_its_operation_then_works_once_released(
        string operation, string named, decimal spentAfter, decimal heldAfter)
    {
        StoreUnavailableException unavailable;
        var watch = Stopwatch.StartNew();
        await using (var other = await HoldWriteLockAsync())
        {
            unavailable = await Assert.ThrowsAsync<StoreUnavailableException>(() => RunAsync(operation));
            watch.Stop();

            // Nothing changed, and the file can still be read while the other connection holds it (WAL).
            Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, 0m, 0.75m), await Usage());
        }

        Assert.Equal(named, unavailable.Operation);
        Assert.Equal("busy", unavailable.Reason);
        Assert.Equal(5, Assert.IsType<SqliteException>(unavailable.InnerException).SqliteErrorCode); // SQLITE_BUSY
        Assert.Contains(named, unavailable.Message, StringComparison.Ordinal);

        // The store's own short timeout (Microsoft.Data.Sqlite retries a busy statement up to its connection's
        // DefaultTimeout, whole seconds: 1 s here), not the default 10 s.
        Assert.True(watch.Elapsed < SqliteStoreFile.BusyTimeout, $"failed after {watch.Elapsed}");

        // Released: the same store (the same write connection) does the operation, then reserves again.
        await RunAsync(operation);
        var after = await _store.ReserveAsync("req-after", [Daily()], 0.125m, T0 + Ttl, Ttl);
        Assert.True(after.Succeeded);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, spentAfter, heldAfter), await Usage());
    }

    private async Task RunAsync(string operation)
    {
        switch (operation)
        {
            case "reserve":
                Assert.True((await _store.ReserveAsync("req-x", [Daily()], 0.1m, T0, Ttl)).Succeeded);
                break;
            case "settle":
                await _store.SettleAsync(_held, 0.2m);
                break;
            case "reconcile":
                Assert.Equal(1, await _store.ReconcileExpiredAsync(T0 + Ttl));
                break;
            case "grow":
                Assert.Equal(Nanos / 8, await _store.GrowLeaseAsync("lse_1", create: false, "inst-1", [Daily()], 0, Nanos / 8, 1m, T0, T0 + (2 * Ttl)));
                break;
            case "shrink":
                Assert.Equal(0, await _store.ShrinkLeaseAsync("lse_1", Nanos / 4, T0 + (2 * Ttl)));
                break;
            case "close":
                await _store.CloseLeasesAsync(["lse_1"], T0);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(operation), operation, "no such case");
        }
    }

    /// <summary>Another connection (not pooled, as another process's) holding the file's write lock until disposed.</summary>
    private async Task<SqliteConnection> HoldWriteLockAsync()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DbPath, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var begin = connection.CreateCommand();
        begin.CommandText = "PRAGMA journal_mode = WAL; BEGIN IMMEDIATE;";
        await begin.ExecuteNonQueryAsync();
        return connection;
    }

    private static BudgetLimit Daily() => new("key:k1", "key 'team-a'", BudgetWindow.Day, 1m);

    private Task<BudgetUsage> Usage() => _store.GetUsageAsync("key:k1", BudgetWindow.Day, T0);
}
