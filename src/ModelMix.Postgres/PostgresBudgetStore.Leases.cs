using ModelMix.Budgets;
using ModelMix.Ledger;
using Npgsql;

namespace ModelMix.Postgres;

/// <summary>
/// Budget leases in PostgreSQL (issue 29; <see cref="IBudgetLeaseStore"/>, docs/keys-and-budgets.md "Budget leases").
/// Each operation is one statement in autocommit, like a reservation: a counter row is locked only while PostgreSQL
/// executes it, never across a round trip to a replica. A lease row belongs to one replica, so charging records to it in
/// the ledger batch locks no row another replica waits for (the hot key's counter row is touched there only when an
/// answer cost more than the whole slice, or the lease was closed already).
/// </summary>
public sealed partial class PostgresBudgetStore : IBudgetLeaseStore
{
    /// <inheritdoc />
    public async Task<long?> GrowLeaseAsync(string leaseId, bool create, string instanceId, IReadOnlyList<BudgetLimit> limits, long minNanos, long wantNanos, decimal share, DateTimeOffset at, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(leaseId);
        ArgumentNullException.ThrowIfNull(limits);
        await EnsureMigratedAsync(cancellationToken);
        var items = BudgetCounterHold.Distinct(limits, at); // each counter once, in the caller's order
        var scopes = items.ConvertAll(item => item.Scope).ToArray();
        var periods = items.ConvertAll(item => item.Period).ToArray();
        var starts = items.ConvertAll(item => item.Start).ToArray();
        var caps = items.ConvertAll(item => item.Cap).ToArray();
        cancellationToken.ThrowIfCancellationRequested(); // and never during the statements (Uncancellable)
        var result = await RetryTransientAsync(
            "budgets.lease",
            async token =>
            {
                await using var connection = await _database.OpenAsync(token);
                await using (var ensure = new NpgsqlCommand(
                    "INSERT INTO budget_counters (scope, period, period_start) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING;",
                    connection))
                {
                    ensure.Parameters.Add(new NpgsqlParameter { Value = scopes });
                    ensure.Parameters.Add(new NpgsqlParameter { Value = periods });
                    ensure.Parameters.Add(new NpgsqlParameter { Value = starts });
                    await ensure.ExecuteNonQueryAsync(token);
                }

                await using var command = new NpgsqlCommand(GrowSql, connection);
                foreach (var value in new object[] { scopes, periods, starts, caps, minNanos, leaseId, Math.Max(wantNanos, minNanos), share, SqliteLedgerSchema.ToStoredTimestamp(expiresAt), (long)items.Count, !create, instanceId, SqliteLedgerSchema.ToStoredTimestamp(at) })
                {
                    command.Parameters.Add(new NpgsqlParameter { Value = value });
                }

                await using var reader = await command.ExecuteReaderAsync(token);
                return await reader.ReadAsync(token) && !reader.IsDBNull(0) && reader.GetBoolean(0) ? reader.GetInt64(1) : -1L;
            },
            Uncancellable);
        if (result < 0)
        {
            return null;
        }

        BudgetLeaseIds.InUse = true;
        return result;
    }

    /// <inheritdoc />
    public async Task<long?> ShrinkLeaseAsync(string leaseId, long nanos, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(leaseId);
        await EnsureMigratedAsync(cancellationToken);
        cancellationToken.ThrowIfCancellationRequested(); // and never during the statement (Uncancellable)
        return await RetryTransientAsync(
            "budgets.lease",
            async token =>
            {
                await using var connection = await _database.OpenAsync(token);
                await using var command = new NpgsqlCommand(ShrinkSql, connection);
                command.Parameters.Add(new NpgsqlParameter { Value = leaseId });
                command.Parameters.Add(new NpgsqlParameter { Value = Math.Max(0, nanos) });
                command.Parameters.Add(new NpgsqlParameter { Value = SqliteLedgerSchema.ToStoredTimestamp(expiresAt) });
                return await command.ExecuteScalarAsync(token) is long spent ? spent : (long?)null;
            },
            Uncancellable);
    }

    /// <inheritdoc />
    public async Task CloseLeasesAsync(IReadOnlyList<string> leaseIds, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leaseIds);
        if (leaseIds.Count == 0)
        {
            return;
        }

        await EnsureMigratedAsync(cancellationToken);
        cancellationToken.ThrowIfCancellationRequested(); // and never during the statement (Uncancellable)
        await RetryTransientAsync(
            "budgets.lease",
            async token =>
            {
                await using var connection = await _database.OpenAsync(token);
                await using var command = new NpgsqlCommand(CloseSql, connection);
                command.Parameters.Add(new NpgsqlParameter { Value = leaseIds.ToArray() });
                command.Parameters.Add(new NpgsqlParameter { Value = SqliteLedgerSchema.ToStoredTimestamp(at) });
                return (long)(await command.ExecuteScalarAsync(token))!;
            },
            Uncancellable);
    }

    /// <summary>
    /// Charges reconciled attempts of leases (<see cref="ChargeReconciledAsync"/>) as the ledger batch charges its leased
    /// records: to the lease while open, else to its counters (its held tail first), bounded by the room up to the caps;
    /// the rest booked as each record's overrun, in the given order.
    /// </summary>
    /// <returns>The overruns booked (routed model and amount); null when none.</returns>
    private static async Task<List<BudgetOverrunBooked>?> ChargeLeasesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<(LedgerRecord Record, string LeaseId)> charges, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(ChargeReconciledSql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = charges.ConvertAll(item => item.LeaseId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = charges.ConvertAll(item => item.Record.Id).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = charges.ConvertAll(item => SqliteLedgerSchema.ToStoredTimestamp(item.Record.Timestamp)).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = charges.ConvertAll(item => item.Record.RoutedModel).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = charges.ConvertAll(item => LedgerIntentRows.ReclaimedCharge(item.Record) ?? 0).ToArray() });
        List<BudgetOverrunBooked>? booked = null;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            (booked ??= []).Add(new BudgetOverrunBooked(reader.GetString(0), BudgetMoney.ToUsd(reader.GetInt64(1))));
        }

        return booked;
    }

    /// <summary>
    /// Grows (or creates) a lease: <c>$1..$4</c> the counters and caps, <c>$5</c> the least slice, <c>$6</c> the lease
    /// id, <c>$7</c> the slice wanted, <c>$8</c> the share of the room, <c>$9</c> the new expiry, <c>$10</c> how many
    /// counters, <c>$11</c> whether the lease must exist (grow) or not (create), <c>$12</c> the instance, <c>$13</c> now.
    /// Locks the lease, then the counters in the global order (the order every path takes: lease or reservation rows,
    /// then counters; the ledger flush charging leased records holds a lease and then locks its counters, so taking them
    /// the other way round here deadlocked it); returns whether it was granted and how much.
    /// </summary>
    private const string GrowSql =
        """
        WITH wanted AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS w(scope, period, period_start, cap)
        ),
        lease AS (
            SELECT id FROM budget_reservations WHERE id = $6::text AND reclaimed_at IS NULL FOR UPDATE
        ),
        locked AS (
            SELECT c.scope, c.period, c.period_start, c.spent_nanos, c.reserved_nanos
            FROM budget_counters c
            WHERE (c.scope, c.period, c.period_start) IN (SELECT scope, period, period_start FROM wanted)
              AND (SELECT count(*) FROM lease) >= 0
            ORDER BY c.scope COLLATE "C", c.period COLLATE "C", c.period_start
            FOR UPDATE
        ),
        room AS (
            SELECT count(*) AS n, MIN(w.cap - l.spent_nanos - l.reserved_nanos) AS h
            FROM locked l JOIN wanted w USING (scope, period, period_start)
        ),
        verdict AS (
            SELECT COALESCE(r.n = $10::bigint AND r.h >= $5::bigint AND ((SELECT count(*) FROM lease) > 0) = $11::boolean, false) AS ok,
                   LEAST($7::bigint, GREATEST($5::bigint, floor(GREATEST(COALESCE(r.h, 0), 0) * $8::numeric)::bigint)) AS g
            FROM room r
        ),
        held AS (
            UPDATE budget_counters c SET reserved_nanos = c.reserved_nanos + v.g
            FROM verdict v
            WHERE v.ok AND v.g > 0 AND (c.scope, c.period, c.period_start) IN (SELECT scope, period, period_start FROM wanted)
            RETURNING 1
        ),
        grown AS (
            UPDATE budget_reservations r SET amount_nanos = r.amount_nanos + v.g, expires_at = $9::bigint
            FROM verdict v WHERE v.ok AND $11::boolean AND r.id = $6::text
            RETURNING 1
        ),
        created AS (
            INSERT INTO budget_reservations (id, request_id, amount_nanos, created_at, expires_at, instance_id, lease_ttl)
            SELECT $6::text, $12::text, v.g, $13::bigint, $9::bigint, $12::text, GREATEST(0, $9::bigint - $13::bigint) FROM verdict v WHERE v.ok AND NOT $11::boolean
            RETURNING 1
        ),
        items AS (
            INSERT INTO budget_reservation_items (reservation_id, scope, period, period_start, cap_nanos)
            SELECT $6::text, w.scope, w.period, w.period_start, w.cap FROM wanted w CROSS JOIN verdict v WHERE v.ok AND NOT $11::boolean
            RETURNING 1
        )
        SELECT v.ok, v.g FROM verdict v;
        """;

    /// <summary>Gives back up to <c>$2</c> of lease <c>$1</c>'s unspent slice and sets its expiry to <c>$3</c>; returns what its records cost so far (null when it is closed).</summary>
    private const string ShrinkSql =
        """
        WITH l AS (
            SELECT id, lease_spent_nanos, GREATEST(0, LEAST($2::bigint, amount_nanos - lease_spent_nanos)) AS d
            FROM budget_reservations WHERE id = $1::text AND reclaimed_at IS NULL FOR UPDATE
        ),
        c AS (
            UPDATE budget_counters k SET reserved_nanos = GREATEST(0, k.reserved_nanos - l.d)
            FROM l JOIN budget_reservation_items i ON i.reservation_id = l.id
            WHERE l.d > 0 AND k.scope = i.scope AND k.period = i.period AND k.period_start = i.period_start
            RETURNING 1
        ),
        u AS (
            UPDATE budget_reservations r SET amount_nanos = r.amount_nanos - l.d, expires_at = $3::bigint FROM l WHERE r.id = l.id RETURNING 1
        )
        SELECT (SELECT lease_spent_nanos FROM l);
        """;

    /// <summary>Closes the open leases among <c>$1</c> at <c>$2</c>: releases each slice, charges what its records cost.</summary>
    private const string CloseSql =
        """
        WITH l AS (
            SELECT id, amount_nanos, lease_spent_nanos FROM budget_reservations
            WHERE id = ANY($1::text[]) AND reclaimed_at IS NULL ORDER BY id FOR UPDATE
        ),
        d AS (
            SELECT i.scope, i.period, i.period_start, SUM(l.amount_nanos)::bigint AS rel, SUM(l.lease_spent_nanos)::bigint AS spent
            FROM l JOIN budget_reservation_items i ON i.reservation_id = l.id
            GROUP BY i.scope, i.period, i.period_start
        ),
        c AS (
            UPDATE budget_counters k SET reserved_nanos = GREATEST(0, k.reserved_nanos - d.rel), spent_nanos = k.spent_nanos + d.spent
            FROM d WHERE k.scope = d.scope AND k.period = d.period AND k.period_start = d.period_start
            RETURNING 1
        ),
        u AS (
            UPDATE budget_reservations r SET reclaimed_at = $2::bigint, reclaimed_nanos = l.lease_spent_nanos FROM l WHERE r.id = l.id RETURNING 1
        )
        SELECT count(*) FROM l;
        """;
}
