using System.Collections.Concurrent;
using ModelMix.Budgets;
using Npgsql;

namespace ModelMix.Postgres;

/// <summary>
/// Charging leased records in PostgreSQL (issue 29, <see cref="BudgetOverrunRule"/>): one statement for the whole batch,
/// in the round trip that deletes the batch's intents. Per lease it charges its free slice plus the room its counters have
/// up to their caps — the room shared, in lease id order, with the batch's other leases of the same counters, so two
/// leases of one key never both use the same room — and splits what is beyond that record by record in batch order (the
/// same split as SQLite's). The counters are locked only for leases whose records cost more than their free slice.
/// </summary>
public sealed partial class PostgresBudgetStore
{
    // Whether a ledger database has the budget tables (a process may take leases in another database), by connection string.
    private static readonly ConcurrentDictionary<string, bool> BudgetTables = new(StringComparer.Ordinal);

    /// <summary>
    /// Runs <paramref name="completeIntents"/> (the ledger batch's statement that deletes the intents of the records it
    /// stores), preceded — once this process has taken a lease — by the statement that charges every record journaled
    /// against a lease its recorded cost, read in SQL from the batch's own rows (<c>ledger_batch</c>), in the same round
    /// trip: so budget and ledger agree by construction, and no cost is read back to this process while a row is locked.
    /// </summary>
    /// <returns>The overruns booked on the batch's rows (routed model and amount), for <see cref="BudgetOverrunMetrics"/>; null when none.</returns>
    internal static async Task<List<BudgetOverrunBooked>?> ChargeLeasedRecordsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string completeIntents, CancellationToken cancellationToken)
    {
        if (!BudgetLeaseIds.InUse || !await HasBudgetTablesAsync(connection, transaction, cancellationToken))
        {
            await using var complete = new NpgsqlCommand(completeIntents, connection, transaction);
            await complete.ExecuteNonQueryAsync(cancellationToken);
            return null;
        }

        List<BudgetOverrunBooked>? booked = null;
        await using var command = new NpgsqlCommand(ChargeLeasedRecordsSql + completeIntents, connection, transaction);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                (booked ??= []).Add(new BudgetOverrunBooked(reader.GetString(0), BudgetMoney.ToUsd(reader.GetInt64(1))));
            }
        }

        return booked;
    }

    private static async Task<bool> HasBudgetTablesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        if (BudgetTables.TryGetValue(connection.ConnectionString, out var known))
        {
            return known;
        }

        await using var command = new NpgsqlCommand("SELECT to_regclass('budget_reservations') IS NOT NULL;", connection, transaction);
        var has = await command.ExecuteScalarAsync(cancellationToken) is true;
        if (has)
        {
            BudgetTables[connection.ConnectionString] = true; // tables are never dropped; a database without them is asked again
        }

        return has;
    }

    /// <summary>The ledger batch's leased records: lease, row id and timestamp, order, routed model, cost in nano-dollars.</summary>
    private const string BatchLeasedRecords =
        """
        SELECT i.reservation_id AS lease, b.id, b.timestamp AS ts, b.ord::bigint AS ord, b.routed_model AS model, ceil(b.cost_total * 1000000000)::bigint AS nanos
        FROM ledger_batch b JOIN ledger_intents i ON i.id = b.id
        WHERE i.reservation_id LIKE 'lse!_%' ESCAPE '!' AND b.cost_total > 0
        """;

    /// <summary>
    /// Reconciled attempts charged to leases: <c>$1</c> lease ids, <c>$2</c> their rows' ids, <c>$3</c> stored timestamps,
    /// <c>$4</c> routed models, <c>$5</c> nano-dollars, in the order given.
    /// </summary>
    private const string ReconciledLeaseCharges =
        "SELECT s.lease, s.id, s.ts, s.ord, s.model, s.nanos FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[]) WITH ORDINALITY AS s(lease, id, ts, model, nanos, ord) WHERE s.nanos > 0";

    private static readonly string ChargeLeasedRecordsSql = ChargeSql(BatchLeasedRecords);

    private static readonly string ChargeReconciledSql = ChargeSql(ReconciledLeaseCharges);

    /// <summary>
    /// Charges leases the records <paramref name="records"/> lists (lease, id, ts, ord, model, nanos): an open lease's spent
    /// amount grows (and its slice, with its counters' held money, when a charge goes beyond the slice: an answer dearer
    /// than its hold); a closed lease's counters are charged directly, drawing first on the tail a lease reclaimed by a
    /// sweep still holds (its free money once closed). Each lease is charged
    /// at most its free slice plus its counters' room up to their caps (no slack: the store does not know a leased
    /// request's hold), the rest booked as each record's overrun (<c>overrun_usd</c>) in batch order; the statement returns
    /// the rows booked (routed model, nano-dollars). Locks lease rows, then counters in the global order.
    /// </summary>
    private static string ChargeSql(string records) =>
        $"""
        WITH rec AS ({records}),
        c AS (SELECT lease AS id, SUM(nanos)::bigint AS nanos FROM rec GROUP BY lease),
        n AS (
            SELECT t.id, t.amount_nanos, t.lease_spent_nanos, t.reclaimed_at IS NOT NULL AS closed, c.nanos,
                   CASE WHEN t.reclaimed_at IS NOT NULL THEN t.tail_nanos ELSE GREATEST(0, t.amount_nanos - t.lease_spent_nanos) END AS free
            FROM budget_reservations t JOIN c ON c.id = t.id
            ORDER BY t.id FOR UPDATE OF t
        ),
        {BoundedRoom}
        r AS (
            SELECT n.id, n.amount_nanos, n.lease_spent_nanos, n.closed, n.free, n.nanos AS cost, n.free + m.extra AS chargeable,
                   LEAST(n.nanos, n.free + m.extra) AS charged
            FROM n LEFT JOIN room m ON m.id = n.id
        ),
        split AS (
            SELECT rec.id, rec.ts, rec.model,
                   rec.nanos - LEAST(rec.nanos, GREATEST(0, r.chargeable - (SUM(rec.nanos) OVER (PARTITION BY rec.lease ORDER BY rec.ord) - rec.nanos)))::bigint AS overrun
            FROM rec JOIN r ON r.id = rec.lease
            WHERE r.chargeable < r.cost
        ),
        o AS (
            UPDATE ledger_records l SET overrun_usd = COALESCE(l.overrun_usd, 0) + s.overrun * 0.000000001
            FROM split s WHERE s.overrun > 0 AND l.id = s.id AND l.timestamp = s.ts
            RETURNING l.routed_model AS model, s.overrun
        ),
        u AS (
            UPDATE budget_reservations t
            SET lease_spent_nanos = t.lease_spent_nanos + CASE WHEN r.closed THEN 0 ELSE r.charged END,
                amount_nanos = CASE WHEN r.closed THEN t.amount_nanos ELSE GREATEST(t.amount_nanos, t.lease_spent_nanos + r.charged) END,
                reclaimed_nanos = CASE WHEN r.closed THEN COALESCE(t.reclaimed_nanos, 0) + r.charged ELSE t.reclaimed_nanos END,
                tail_nanos = CASE WHEN r.closed THEN t.tail_nanos - LEAST(r.charged, r.free) ELSE t.tail_nanos END
            FROM r WHERE t.id = r.id AND r.charged > 0
            RETURNING 1
        ),
        d AS (
            SELECT i.scope, i.period, i.period_start,
                   SUM(CASE WHEN r.closed THEN r.charged ELSE 0 END)::bigint AS spend,
                   SUM(CASE WHEN r.closed THEN 0 ELSE GREATEST(0, r.lease_spent_nanos + r.charged - r.amount_nanos) END)::bigint AS grow,
                   SUM(CASE WHEN r.closed THEN LEAST(r.charged, r.free) ELSE 0 END)::bigint AS drawn
            FROM r JOIN budget_reservation_items i ON i.reservation_id = r.id
            GROUP BY i.scope, i.period, i.period_start
        ),
        held AS (
            UPDATE budget_counters k SET spent_nanos = k.spent_nanos + d.spend, reserved_nanos = GREATEST(0, k.reserved_nanos + d.grow - d.drawn)
            FROM d WHERE (d.spend > 0 OR d.grow > 0) AND k.scope = d.scope AND k.period = d.period AND k.period_start = d.period_start
            RETURNING 1
        )
        SELECT model, overrun FROM o;

        """;

    /// <summary>
    /// The room each lease that costs more than its free slice (once closed: its held tail) may use: its counters, locked
    /// in the global order, up to their caps, less what the batch's leases of the same counter before it (in id order) add
    /// to their spent + held money (what each costs beyond its free money). (Leases of one key share the same counters, so this is exact for them; a lease held back by a tighter
    /// counter of its own only makes later ones keep more room back.)
    /// </summary>
    private const string BoundedRoom =
        """
        over AS (SELECT id, nanos - free AS need FROM n WHERE nanos > free),
        locked AS (
            SELECT k.scope, k.period, k.period_start, k.spent_nanos, k.reserved_nanos
            FROM budget_counters k
            WHERE (k.scope, k.period, k.period_start) IN (SELECT i.scope, i.period, i.period_start FROM budget_reservation_items i JOIN over ON i.reservation_id = over.id)
            ORDER BY k.scope COLLATE "C", k.period COLLATE "C", k.period_start
            FOR UPDATE
        ),
        claims AS (
            SELECT over.id, i.cap_nanos, l.spent_nanos + l.reserved_nanos AS used,
                   COALESCE(SUM(over.need) OVER (PARTITION BY l.scope, l.period, l.period_start ORDER BY over.id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
            FROM over JOIN budget_reservation_items i ON i.reservation_id = over.id
                 JOIN locked l ON l.scope = i.scope AND l.period = i.period AND l.period_start = i.period_start
        ),
        room AS (
            SELECT id, MIN(GREATEST(0, cap_nanos - used - before))::bigint AS extra FROM claims WHERE cap_nanos IS NOT NULL GROUP BY id
        ),
        """;
}
