using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Budgets;

namespace ModelMix.Tests.Budgets;

/// <summary><see cref="BudgetLeases"/> over a real SQLite file: requests held in memory against one slice, one durable write per slice.</summary>
public sealed class BudgetLeasesTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-lease-tests", Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 14, 12, 0, 0, TimeSpan.Zero));
    private CountingStore _store = null!;
    private SqliteBudgetStore _sqlite = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        _sqlite = new SqliteBudgetStore(Path.Combine(_folder, "ledger.db"));
        await _sqlite.MigrateAsync();
        _store = new CountingStore(_sqlite);
    }

    public async Task DisposeAsync()
    {
        await _sqlite.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private static BudgetLimit Daily(decimal cap) => new("key:k1", "key 'team-a'", BudgetWindow.Day, cap);

    [Fact]
    public async Task Fifty_concurrent_holds_share_one_durable_slice()
    {
        var leases = new BudgetLeases(_store, "inst-1", sizeUsd: 0.5m, share: 1m, TimeSpan.FromSeconds(30), _time);
        var holds = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => leases.HoldAsync([Daily(1m)], 0.01m, _time.GetUtcNow(), CancellationToken.None).AsTask()));
        Assert.All(holds, Assert.NotNull);
        Assert.Equal(1, _store.Grows); // 50 × $0.01 = the $0.5 slice
        Assert.Equal(0.5m, (await _sqlite.GetUsageAsync("key:k1", BudgetWindow.Day, _time.GetUtcNow())).ReservedUsd);

        // The 51st does not fit the slice: one more durable write, a slice of min($0.5, $0.5 left × 1).
        var last = await leases.HoldAsync([Daily(1m)], 0.01m, _time.GetUtcNow(), CancellationToken.None);
        Assert.NotNull(last);
        Assert.Equal(2, _store.Grows);
        Assert.Equal(1m, (await _sqlite.GetUsageAsync("key:k1", BudgetWindow.Day, _time.GetUtcNow())).ReservedUsd);

        // Closed on stop once every request ended: the slices go back (no records were charged to them).
        foreach (var hold in holds.Append(last))
        {
            hold!.Release(0m);
        }

        await leases.CloseAllAsync(CancellationToken.None);
        Assert.Equal(0m, (await _sqlite.GetUsageAsync("key:k1", BudgetWindow.Day, _time.GetUtcNow())).ReservedUsd);
    }

    [Fact]
    public async Task Near_the_cap_the_slice_shrinks_and_a_request_it_cannot_cover_falls_back_after_the_unused_slice_is_returned()
    {
        var leases = new BudgetLeases(_store, "inst-1", sizeUsd: 1m, share: 0.25m, TimeSpan.FromSeconds(30), _time);

        // Room $0.04: slice max($0.015, $0.04 × 0.25 = $0.01) = $0.015, just this request.
        var first = await leases.HoldAsync([Daily(0.04m)], 0.015m, _time.GetUtcNow(), CancellationToken.None);
        Assert.NotNull(first);
        Assert.Equal(0.015m, (await _sqlite.GetUsageAsync("key:k1", BudgetWindow.Day, _time.GetUtcNow())).ReservedUsd);
        first!.Release(0.005m); // it cost $0.005: $0.01 of the slice is free again

        // $0.03 does not fit the slice's free $0.01: it needs $0.02 more, the room left is $0.04 − $0.015 = $0.025, so the
        // lease grows by max($0.02, $0.025 × 0.25) = $0.02.
        Assert.NotNull(await leases.HoldAsync([Daily(0.04m)], 0.03m, _time.GetUtcNow(), CancellationToken.None));
        Assert.Equal(0.035m, (await _sqlite.GetUsageAsync("key:k1", BudgetWindow.Day, _time.GetUtcNow())).ReservedUsd);

        // $0.01 more: the slice has $0 free and the room is $0.005: refused here, the caller reserves per request.
        Assert.Null(await leases.HoldAsync([Daily(0.04m)], 0.01m, _time.GetUtcNow(), CancellationToken.None));
    }

    [Fact]
    public async Task A_changed_cap_takes_a_new_lease_under_the_new_cap()
    {
        var leases = new BudgetLeases(_store, "inst-1", sizeUsd: 0.5m, share: 1m, TimeSpan.FromSeconds(30), _time);
        Assert.NotNull(await leases.HoldAsync([Daily(1m)], 0.01m, _time.GetUtcNow(), CancellationToken.None)); // slice $0.5 held

        // Lowered to $0.6: the old slice still holds $0.5, so only $0.1 is left for the new cap's lease.
        Assert.Null(await leases.HoldAsync([Daily(0.6m)], 0.2m, _time.GetUtcNow(), CancellationToken.None));
        Assert.NotNull(await leases.HoldAsync([Daily(0.6m)], 0.1m, _time.GetUtcNow(), CancellationToken.None));
        Assert.Equal(0.6m, (await _sqlite.GetUsageAsync("key:k1", BudgetWindow.Day, _time.GetUtcNow())).ReservedUsd);
    }

    /// <summary>Counts the durable grows.</summary>
    private sealed class CountingStore(IBudgetLeaseStore inner) : IBudgetLeaseStore
    {
        private int _grows;

        public int Grows => Volatile.Read(ref _grows);

        public Task<long?> GrowLeaseAsync(string leaseId, bool create, string instanceId, IReadOnlyList<BudgetLimit> limits, long minNanos, long wantNanos, decimal share, DateTimeOffset at, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _grows);
            return inner.GrowLeaseAsync(leaseId, create, instanceId, limits, minNanos, wantNanos, share, at, expiresAt, cancellationToken);
        }

        public Task<long?> ShrinkLeaseAsync(string leaseId, long nanos, DateTimeOffset expiresAt, CancellationToken cancellationToken = default) =>
            inner.ShrinkLeaseAsync(leaseId, nanos, expiresAt, cancellationToken);

        public Task CloseLeasesAsync(IReadOnlyList<string> leaseIds, DateTimeOffset at, CancellationToken cancellationToken = default) =>
            inner.CloseLeasesAsync(leaseIds, at, cancellationToken);
    }
}
