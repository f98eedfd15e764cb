using System.Data.Common;
using ModelMix.Ledger;
using ModelMix.Stores;

namespace ModelMix.Budgets;

/// <summary>
/// The budget store statements the SQLite and PostgreSQL stores share word for word but for their dialect (the
/// parameter marker, <c>MAX</c> or <c>GREATEST</c>, an integer sum's type, <c>FOR UPDATE</c>), and the settlement of
/// a hold that runs them (<see cref="SettleAsync"/>). Each store holds one. How a store holds money
/// (<see cref="BudgetHoldPlan"/>) and sweeps expired reservations differs by backend and stays in the store; the
/// parameters each statement names are listed beside it, bound with the store's marker.
/// </summary>
internal sealed class BudgetStoreDialect
{
    /// <summary>The SQLite statements (<c>$</c> parameters; the single writer needs no row locks).</summary>
    public static readonly BudgetStoreDialect Sqlite = new('$', LedgerSqlDialect.Sqlite, forUpdate: string.Empty, lockCounters: null);

    private BudgetStoreDialect(char marker, LedgerSqlDialect sql, string forUpdate, string? lockCounters)
    {
        var m = Marker = marker;
        LockCounters = lockCounters;
        ApplyToItems =
            $"""
            UPDATE budget_counters
            SET reserved_nanos = {sql.Greatest("0", $"reserved_nanos - {m}release")}, spent_nanos = spent_nanos + {m}charge
            WHERE (scope, period, period_start) IN (SELECT scope, period, period_start FROM budget_reservation_items WHERE reservation_id = {m}id);
            """;
        ReadReservation = $"SELECT amount_nanos, reclaimed_at, reclaimed_nanos FROM budget_reservations WHERE id = {m}id{forUpdate};";
        DeleteReservation = $"DELETE FROM budget_reservation_items WHERE reservation_id = {m}id; DELETE FROM budget_reservations WHERE id = {m}id;";
        ReleaseTail = $"UPDATE budget_reservations SET tail_nanos = 0 WHERE id = {m}id;";
        CloseLease = $"UPDATE budget_reservations SET reclaimed_at = {m}now, reclaimed_nanos = {m}c, tail_nanos = {m}t, expires_at = {m}e WHERE id = {m}id;";
        MarkReclaimed = $"UPDATE budget_reservations SET reclaimed_at = {m}now, reclaimed_nanos = {m}c WHERE id = {m}id;";
        PurgeReclaimed =
            $"DELETE FROM budget_reservation_items WHERE reservation_id IN (SELECT id FROM budget_reservations WHERE reclaimed_at IS NOT NULL AND reclaimed_at < {m}old AND tail_nanos = 0); " +
            $"DELETE FROM budget_reservations WHERE reclaimed_at IS NOT NULL AND reclaimed_at < {m}old AND tail_nanos = 0;";
        // What records cost the open leases of one counter: shown as spent, not held (the counter holds each open lease's whole slice).
        var leaseSpent =
            $"SELECT {sql.IntegerSum("r.lease_spent_nanos")} AS spent FROM budget_reservation_items i JOIN budget_reservations r ON r.id = i.reservation_id " +
            $"WHERE i.scope = {m}s AND i.period = {m}p AND i.period_start = {m}ps AND r.reclaimed_at IS NULL AND r.lease_spent_nanos > 0";
        Usage = $"SELECT c.spent_nanos + l.spent, c.reserved_nanos - l.spent FROM budget_counters c, ({leaseSpent}) l WHERE c.scope = {m}s AND c.period = {m}p AND c.period_start = {m}ps;";
    }

    /// <summary>The parameter marker: <c>$</c> for SQLite, <c>@</c> for PostgreSQL.</summary>
    public char Marker { get; }

    /// <summary>
    /// Run in a settlement before its counters change, with the reservation ids bound as its one positional parameter:
    /// locks the counters in the global order reservations lock them (PostgreSQL); null where writers are serialized
    /// anyway (SQLite's single writer).
    /// </summary>
    public string? LockCounters { get; }

    /// <summary>Releases <c>release</c> and charges <c>charge</c> on every counter of the reservation <c>id</c> (held money never below zero).</summary>
    public string ApplyToItems { get; }

    /// <summary>The reservation <c>id</c>'s hold, reclaim instant and what its reclaim accounted for (locked for update in PostgreSQL).</summary>
    public string ReadReservation { get; }

    /// <summary>Deletes the reservation <c>id</c> and its counter items.</summary>
    public string DeleteReservation { get; }

    /// <summary>Ends the held tail of the reclaimed lease <c>id</c>.</summary>
    public string ReleaseTail { get; }

    /// <summary>Closes the lease <c>id</c> at <c>now</c>: accounted <c>c</c>, tail <c>t</c> held until <c>e</c>.</summary>
    public string CloseLease { get; }

    /// <summary>Marks the reservation <c>id</c> reclaimed at <c>now</c>, its ledger cost <c>c</c> accounted for.</summary>
    public string MarkReclaimed { get; }

    /// <summary>Deletes the reclaimed reservations (and their items) reclaimed before <c>old</c> with no tail held.</summary>
    public string PurgeReclaimed { get; }

    /// <summary>One counter's (<c>s</c>, <c>p</c>, <c>ps</c>) spent and held money as <see cref="IBudgetStore.GetUsageAsync"/> shows them.</summary>
    private string Usage { get; }

    /// <summary>The PostgreSQL statements (<c>@</c> parameters; rows locked for update, counters in the global order).</summary>
    /// <param name="lockCounters">The statement that locks the counters of the reservations <c>$1</c> in the global order.</param>
    public static BudgetStoreDialect Postgres(string lockCounters) => new('@', LedgerSqlDialect.Postgres, forUpdate: " FOR UPDATE", lockCounters);

    /// <summary>
    /// <see cref="IBudgetStore.GetUsageAsync"/> on a read connection: the counter of <paramref name="scope"/> and
    /// <paramref name="window"/> in the period containing <paramref name="at"/>, what its open leases' records cost shown
    /// as spent rather than held; zeros for a counter not yet created.
    /// </summary>
    public async Task<BudgetUsage> ReadUsageAsync(DbConnection connection, string scope, BudgetWindow window, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var m = Marker;
        var start = BudgetPeriods.Start(window, at);
        await using var command = StoreCommands.Create(connection, Usage);
        StoreCommands.Add(command, m + "s", scope);
        StoreCommands.Add(command, m + "p", BudgetPeriods.ToCode(window));
        StoreCommands.Add(command, m + "ps", SqliteLedgerSchema.ToStoredTimestamp(start));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new BudgetUsage(window, start, BudgetMoney.ToUsd(reader.GetInt64(0)), BudgetMoney.ToUsd(reader.GetInt64(1)))
            : new BudgetUsage(window, start, 0m, 0m);
    }

    /// <summary>
    /// Settles the hold <paramref name="reservationId"/> at <paramref name="actual"/> nano-dollars in the store's write
    /// transaction (<see cref="IBudgetStore.SettleAsync"/>; the caller commits): releases what it holds and charges the
    /// cost (<see cref="BudgetHoldEnd.Settle"/>), then deletes it. A hold already settled is left alone (settling is
    /// idempotent).
    /// </summary>
    public async Task SettleAsync(DbConnection connection, DbTransaction transaction, string reservationId, long actual, CancellationToken cancellationToken)
    {
        var m = Marker;
        long held;
        long? reclaimed;
        await using (var read = StoreCommands.Create(connection, ReadReservation, transaction))
        {
            StoreCommands.Add(read, m + "id", reservationId);
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return; // Already settled: settling is idempotent.
            }

            held = reader.GetInt64(0);
            reclaimed = reader.IsDBNull(1) ? null : reader.GetInt64(2);
        }

        if (LockCounters is not null)
        {
            await using var lockCounters = StoreCommands.Create(connection, LockCounters, transaction);
            StoreCommands.Add(lockCounters, string.Empty, new[] { reservationId });
            await lockCounters.ExecuteNonQueryAsync(cancellationToken);
        }

        // A reclaimed reservation no longer holds money and was already charged what the ledger showed then.
        var (release, charge) = BudgetHoldEnd.Settle(held, reclaimed, actual);
        await using (var apply = StoreCommands.Create(connection, ApplyToItems, transaction))
        {
            StoreCommands.Add(apply, m + "release", release);
            StoreCommands.Add(apply, m + "charge", charge);
            StoreCommands.Add(apply, m + "id", reservationId);
            await apply.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var delete = StoreCommands.Create(connection, DeleteReservation, transaction);
        StoreCommands.Add(delete, m + "id", reservationId);
        await delete.ExecuteNonQueryAsync(cancellationToken);
    }
}
