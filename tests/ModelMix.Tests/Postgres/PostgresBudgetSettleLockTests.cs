using Microsoft.Extensions.Time.Testing;
using ModelMix.Budgets;
using ModelMix.Postgres;
using Npgsql;

namespace ModelMix.Tests.Postgres;

/// <summary>
/// The locks a PostgreSQL settlement takes (<see cref="BudgetStoreDialect.SettleAsync"/>), each shown against a raw
/// transaction that holds the locks another writer would hold. Deterministic: the settlement is started only once the
/// raw transaction holds its locks, and the raw transaction moves on only once a separate connection sees the
/// settlement waiting for a lock (polled, with a deadline). Issue 27: no other test made a settlement race a sweep or a
/// reservation, so removing these locks left every PostgreSQL budget test green.
/// </summary>
public sealed class PostgresBudgetSettleLockTests : IAsyncLifetime
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(15);
    private readonly PostgresTestDatabase _db = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 14, 12, 0, 0, TimeSpan.Zero));
    private PostgresBudgetStore _store = null!;

    public async Task InitializeAsync()
    {
        await _db.CreateAsync();
        _store = new PostgresBudgetStore(_db.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        await PostgresTestDatabase.DeleteAsync();
    }

    private static BudgetLimit Daily(string scope) => new(scope, scope, BudgetWindow.Day, 1m);

    [Fact]
    public async Task A_settlement_that_waits_for_a_sweep_reclaiming_its_reservation_reads_the_reclaim_and_releases_nothing_twice()
    {
        // Two holds on one counter: the one a sweep reclaims while its request settles, and another that stays held.
        var at = _time.GetUtcNow();
        var reclaimed = (await _store.ReserveAsync("req-reclaimed", [Daily("key:a")], 0.4m, at, Ttl)).Reservation!;
        Assert.True((await _store.ReserveAsync("req-other", [Daily("key:a")], 0.3m, at, Ttl)).Succeeded);

        // The sweep (ReconcileCoreAsync) in a raw transaction: it locks the expired reservation's row, then its counters.
        await using var sweep = new NpgsqlConnection(_db.ConnectionString);
        await sweep.OpenAsync();
        await using var sweepTransaction = await sweep.BeginTransactionAsync();
        await ExecuteAsync(sweep, sweepTransaction, "SELECT 1 FROM budget_reservations WHERE id = @id FOR UPDATE;", reclaimed.Id);
        await ExecuteAsync(sweep, sweepTransaction, "SELECT 1 FROM budget_counters WHERE scope = 'key:a' FOR UPDATE;");

        // The request settles at $0.25 meanwhile: it must wait (on the reservation's row lock).
        var settle = Task.Run(() => _store.SettleAsync(reclaimed, 0.25m));
        await WaitUntilWaitingForALockAsync(settle, sweep.ProcessID);

        // The sweep reclaims it as ReclaimReservationsAsync does: the ledger showed $0.10, so it releases the $0.40 hold,
        // charges $0.10 and marks the reservation reclaimed with $0.10 accounted for. Then it commits.
        await ExecuteAsync(sweep, sweepTransaction, "UPDATE budget_counters SET reserved_nanos = reserved_nanos - 400000000, spent_nanos = spent_nanos + 100000000 WHERE scope = 'key:a';");
        await ExecuteAsync(sweep, sweepTransaction, "UPDATE budget_reservations SET reclaimed_at = 1, reclaimed_nanos = 100000000 WHERE id = @id;", reclaimed.Id);
        await sweepTransaction.CommitAsync();
        await settle.WaitAsync(TimeSpan.FromSeconds(30));

        // The settlement read the reservation after the sweep committed (its read locks the row): it releases nothing (the
        // sweep did) and charges only what the sweep did not, $0.25 - $0.10 = $0.15. Spent $0.10 + $0.15 = $0.25; held:
        // $0.40 + $0.30 - $0.40 = $0.30, the other hold's. A settlement that read the row before the sweep's change (no
        // FOR UPDATE) would release the $0.40 again (held max(0, $0.30 - $0.40) = $0: the other request's hold gone) and
        // charge the whole $0.25 (spent $0.35).
        var usage = await _store.GetUsageAsync("key:a", BudgetWindow.Day, at);
        Assert.Equal(0.30m, usage.ReservedUsd);
        Assert.Equal(0.25m, usage.SpentUsd);
    }

    [Fact]
    public async Task A_settlement_locks_its_counters_in_the_global_order_before_it_changes_any_so_it_cannot_deadlock_a_reservation()
    {
        // A hold on two counters, named in the reverse of the global order (scope "key:b" before "key:a"): the counters are
        // created and the reservation's items written in that order, so an update that locks rows as it meets them takes
        // "key:b" first.
        var at = _time.GetUtcNow();
        var reservation = (await _store.ReserveAsync("req1", [Daily("key:b"), Daily("key:a")], 0.4m, at, Ttl)).Reservation!;

        // A reservation of both counters in a raw transaction (ReserveSql locks them in the global order): it holds
        // "key:a" and is about to lock "key:b".
        await using var reserve = new NpgsqlConnection(_db.ConnectionString);
        await reserve.OpenAsync();
        await using var reserveTransaction = await reserve.BeginTransactionAsync();
        await ExecuteAsync(reserve, reserveTransaction, "SELECT 1 FROM budget_counters WHERE scope = 'key:a' FOR UPDATE;");

        var settle = Task.Run(() => _store.SettleAsync(reservation, 0.25m));
        await WaitUntilWaitingForALockAsync(settle, reserve.ProcessID);

        // The settlement waits for "key:a" holding no counter: the reservation can take "key:b" at once. A settlement that
        // changed its counters without locking them first in the global order would hold "key:b" while it waits for
        // "key:a", and the two would deadlock (PostgreSQL aborts one after deadlock_timeout; NOWAIT shows it at once).
        try
        {
            await ExecuteAsync(reserve, reserveTransaction, "SELECT 1 FROM budget_counters WHERE scope = 'key:b' FOR UPDATE NOWAIT;");
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            Assert.Fail("The settlement held counter key:b while it waited for key:a: it did not lock its counters in the global order first.");
        }

        await reserveTransaction.CommitAsync();
        await settle.WaitAsync(TimeSpan.FromSeconds(30));

        // Settled at $0.25 on each counter: $0.40 released, $0.25 charged.
        foreach (var scope in new[] { "key:a", "key:b" })
        {
            var usage = await _store.GetUsageAsync(scope, BudgetWindow.Day, at);
            Assert.Equal(0m, usage.ReservedUsd);
            Assert.Equal(0.25m, usage.SpentUsd);
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, string? id = null)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        if (id is not null)
        {
            command.Parameters.AddWithValue("id", id);
        }

        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Polls, from a connection of its own, until a backend of this database other than <paramref name="holder"/> waits
    /// for a lock: the settlement has sent its statement and is blocked. Fails if the settlement ended instead (it did not
    /// wait at all) or nothing waited within 30 s.
    /// </summary>
    private async Task WaitUntilWaitingForALockAsync(Task settle, int holder)
    {
        await using var watcher = new NpgsqlConnection(_db.ConnectionString);
        await watcher.OpenAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            Assert.False(settle.IsCompleted, "The settlement finished without waiting for the locks another writer held.");
            await using var look = new NpgsqlCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> @holder AND pid <> pg_backend_pid();",
                watcher);
            look.Parameters.AddWithValue("holder", holder);
            if ((long)(await look.ExecuteScalarAsync())! > 0)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "The settlement was not seen waiting for a lock within 30 s.");
            await Task.Delay(10);
        }
    }
}
