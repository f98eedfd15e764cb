using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Stores;
using Npgsql;

namespace ModelMix.Postgres;

/// <summary>
/// Budget counters and reservations in PostgreSQL, shared by every proxy replica on the database. Atomic across
/// replicas: a reservation is one statement (<see cref="ReserveSql"/>) that locks the counters it touches (always in
/// one global order, so two replicas never deadlock), checks <c>spent + reserved + amount &lt;= cap</c> for every
/// limit, and only then adds the amount; so no interleaving of requests on any number of replicas can push a period
/// past its cap, and no counter row stays locked across a round trip to a replica (issue 29). Settling after the call
/// charges the recorded cost and releases the hold. A reservation carries an expiry: one left by a replica that died is
/// reclaimed (<see cref="ReconcileExpiredAsync"/>) and charged what its request recorded in the ledger of the same
/// database. Amounts are integer nano-dollars, as in <c>SqliteBudgetStore</c>. No caller's cancellation token
/// reaches Npgsql (<see cref="Uncancellable"/>).
/// </summary>
public sealed partial class PostgresBudgetStore : IBudgetStore
{
    /// <summary>The component name in <c>modelmix_schema_versions</c>.</summary>
    public const string Component = "budgets";

    private const int MaxTransientRetries = 5;

    private static readonly string[] Migrations =
    [
        // 1: the same tables as SqliteBudgetStore's: counters per scope, window and period; reservations and the
        // counters each one holds money in. Amounts are bigint nano-dollars; instants 100 ns ticks since the Unix epoch.
        """
        CREATE TABLE budget_counters (
            scope          text   NOT NULL,
            period         text   NOT NULL,
            period_start   bigint NOT NULL,
            spent_nanos    bigint NOT NULL DEFAULT 0,
            reserved_nanos bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (scope, period, period_start)
        );
        CREATE TABLE budget_reservations (
            id              text   PRIMARY KEY,
            request_id      text   NOT NULL,
            amount_nanos    bigint NOT NULL,
            created_at      bigint NOT NULL,
            expires_at      bigint NOT NULL,
            reclaimed_at    bigint,
            reclaimed_nanos bigint
        );
        CREATE INDEX ix_budget_reservations_expires_at ON budget_reservations (expires_at) WHERE reclaimed_at IS NULL;
        CREATE TABLE budget_reservation_items (
            reservation_id text   NOT NULL,
            scope          text   NOT NULL,
            period         text   NOT NULL,
            period_start   bigint NOT NULL,
            PRIMARY KEY (reservation_id, scope, period)
        );
        """,

        // 2: budget leases (issue 29, PostgresBudgetStore.Leases.cs), as SqliteBudgetStore's step 2.
        """
        ALTER TABLE budget_reservations ADD COLUMN lease_spent_nanos bigint NOT NULL DEFAULT 0, ADD COLUMN instance_id text;
        """,

        // 3: the cap each hold was taken under, as SqliteBudgetStore's step 3 (BudgetOverrunRule); NULL: charged in full.
        "ALTER TABLE budget_reservation_items ADD COLUMN cap_nanos bigint;",

        // 4: a lease's life and the tail a reclaimed lease still holds for its late records, as SqliteBudgetStore's step 4.
        """
        ALTER TABLE budget_reservations ADD COLUMN lease_ttl bigint, ADD COLUMN tail_nanos bigint NOT NULL DEFAULT 0;
        CREATE INDEX ix_budget_reservations_tail ON budget_reservations (expires_at) WHERE tail_nanos > 0;
        """,
    ];

    /// <summary>The statements both budget stores share, in PostgreSQL's dialect.</summary>
    private static readonly BudgetStoreDialect Sql = BudgetStoreDialect.Postgres(LockCountersSql);

    private readonly PostgresDatabase _database;
    private readonly PostgresMigrator _migrations;
    private int _disposed;

    /// <summary>Creates a store over the PostgreSQL database of <paramref name="connectionString"/> (an Npgsql connection string).</summary>
    public PostgresBudgetStore(string connectionString)
    {
        _database = new PostgresDatabase(connectionString);
        _migrations = new PostgresMigrator(_database, Component, Migrations);
    }

    /// <summary>The database for messages, without its password.</summary>
    public string Location => _database.Display;

    /// <inheritdoc />
    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        await _migrations.MigrateAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<BudgetReserveResult> ReserveAsync(string requestId, IReadOnlyList<BudgetLimit> limits, decimal amountUsd, DateTimeOffset at, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        var plan = BudgetHoldPlan.Create(requestId, limits, amountUsd, at, ttl);
        await EnsureMigratedAsync(cancellationToken);
        var result = await RetryTransientAsync("budgets.reserve", _ => TryReserveAsync(plan, cancellationToken), Uncancellable);
        if (result.Refusal is not null && await ReconcileExpiredAsync(at, cancellationToken) > 0)
        {
            // Money held by a dead replica may be what is in the way: reclaim it and try once more.
            result = await RetryTransientAsync("budgets.reserve", _ => TryReserveAsync(plan, cancellationToken), Uncancellable);
        }

        return result;
    }

    /// <inheritdoc />
    public async Task SettleAsync(BudgetReservation reservation, decimal actualUsd, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        var actual = BudgetMoney.ToNanos(actualUsd);
        await EnsureMigratedAsync(cancellationToken);
        cancellationToken.ThrowIfCancellationRequested(); // and never during the statements (Uncancellable)
        await RetryTransientAsync(
            "budgets.settle",
            async token =>
            {
                await using var connection = await _database.OpenAsync(token);
                await using var transaction = await connection.BeginTransactionAsync(token);
                await Sql.SettleAsync(connection, transaction, reservation.Id, actual, token); // locks the row, then its counters in the global order
                await transaction.CommitAsync(token);
                return true;
            },
            Uncancellable);
    }

    /// <inheritdoc />
    public async Task<int> ReconcileExpiredAsync(DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await EnsureMigratedAsync(cancellationToken);
        cancellationToken.ThrowIfCancellationRequested(); // and never during the statements (Uncancellable)
        return await RetryTransientAsync("budgets.reconcile", token => ReconcileCoreAsync(at, token), Uncancellable);
    }

    /// <inheritdoc />
    public async Task<BudgetUsage> GetUsageAsync(string scope, BudgetWindow window, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(scope);
        await EnsureMigratedAsync(cancellationToken);
        cancellationToken.ThrowIfCancellationRequested(); // and never during the statement (Uncancellable)
        await using var connection = await _database.OpenAsync(Uncancellable);
        return await Sql.ReadUsageAsync(connection, scope, window, at, Uncancellable);
    }

    /// <summary>Closes the pooled connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _database.DisposeAsync();
        }
    }

    /// <summary>
    /// One reservation in one statement, outside any explicit transaction (issue 29, docs/performance.md "The pgbudget
    /// stall"): the statement locks the counters in the global order, checks every cap against the locked values, and
    /// only when all fit adds the amount and inserts the reservation; PostgreSQL commits it as it ends. So a counter row
    /// is locked for one statement's execution on the server, never across a round trip to this process: a replica that
    /// stops reading its sockets (or dies) between two statements cannot leave a hot key's row locked. A counter not yet
    /// created is created (in a statement of its own) and the reservation tried again.
    /// </summary>
    private async Task<BudgetReserveResult> TryReserveAsync(BudgetHoldPlan plan, CancellationToken cancellationToken)
    {
        // The counters, each once, in the caller's order (BudgetHoldPlan).
        var items = plan.Counters;
        var scopes = items.Select(item => item.Scope).ToArray();
        var periods = items.Select(item => item.Period).ToArray();
        var starts = items.Select(item => item.Start).ToArray();
        var caps = items.Select(item => item.Cap).ToArray();
        var reservation = plan.Reservation;

        // Checked before the statement is sent, never handed to Npgsql (see Uncancellable).
        cancellationToken.ThrowIfCancellationRequested();
        await using var connection = await _database.OpenAsync(Uncancellable);
        for (var round = 0; ; round++)
        {
            var found = new (long Spent, long Reserved)?[items.Count];
            var reserved = false;
            await using (var command = new NpgsqlCommand(ReserveSql, connection))
            {
                foreach (var value in new object[] { scopes, periods, starts, caps, plan.Amount, reservation.Id, reservation.RequestId, plan.StoredCreatedAt, plan.StoredExpiresAt, (long)items.Count })
                {
                    command.Parameters.Add(new NpgsqlParameter { Value = value });
                }

                await using var reader = await command.ExecuteReaderAsync(Uncancellable);
                while (await reader.ReadAsync(Uncancellable))
                {
                    var ordinal = (int)reader.GetInt64(0) - 1;
                    found[ordinal] = reader.IsDBNull(1) ? null : (reader.GetInt64(1), reader.GetInt64(2));
                    reserved = reader.GetBoolean(3);
                }
            }

            if (reserved)
            {
                return plan.Made;
            }

            if (Array.Exists(found, counter => counter is null))
            {
                if (round > 0)
                {
                    throw new InvalidOperationException("A budget counter created for a reservation was not found by it.");
                }

                // The period's first reservation for one of the counters: create them, then try again.
                await using var ensure = new NpgsqlCommand(
                    "INSERT INTO budget_counters (scope, period, period_start) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING;",
                    connection);
                ensure.Parameters.Add(new NpgsqlParameter { Value = scopes });
                ensure.Parameters.Add(new NpgsqlParameter { Value = periods });
                ensure.Parameters.Add(new NpgsqlParameter { Value = starts });
                await ensure.ExecuteNonQueryAsync(Uncancellable);
                continue;
            }

            for (var i = 0; i < items.Count; i++)
            {
                var (spent, held) = found[i]!.Value;
                if (!plan.Fits(items[i], spent, held))
                {
                    return plan.Refused(items[i], spent, held);
                }
            }

            // Not reserved though every cap had room in the values read: cannot happen (one statement, one snapshot of
            // locked rows); refuse nothing silently.
            throw new InvalidOperationException("A budget reservation was neither made nor refused.");
        }
    }

    /// <summary>
    /// The reservation statement: <c>$1..$4</c> the counters (scope, period, start) and their caps, <c>$5</c> the amount,
    /// <c>$6..$9</c> the reservation (id, request, created, expires), <c>$10</c> how many counters. Locks the existing
    /// counters in the global order (scope, period, start: the order every other writer locks them in, so nothing
    /// deadlocks), and reserves only when all exist and each has room for the amount. Returns one row per counter, in
    /// the caller's order: its ordinal, its spent and reserved amounts (null when it does not exist yet) before this
    /// reservation, and whether the reservation was made.
    /// </summary>
    private const string ReserveSql =
        """
        WITH wanted AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS w(scope, period, period_start, cap, ord)
        ),
        locked AS (
            SELECT c.scope, c.period, c.period_start, c.spent_nanos, c.reserved_nanos
            FROM budget_counters c
            WHERE (c.scope, c.period, c.period_start) IN (SELECT scope, period, period_start FROM wanted)
            ORDER BY c.scope COLLATE "C", c.period COLLATE "C", c.period_start
            FOR UPDATE
        ),
        verdict AS (
            SELECT count(*) = $10::bigint AND COALESCE(bool_and(l.spent_nanos + l.reserved_nanos + $5::bigint <= w.cap), true) AS ok
            FROM locked l JOIN wanted w USING (scope, period, period_start)
        ),
        held AS (
            UPDATE budget_counters c SET reserved_nanos = c.reserved_nanos + $5::bigint
            FROM verdict v
            WHERE v.ok AND (c.scope, c.period, c.period_start) IN (SELECT scope, period, period_start FROM wanted)
            RETURNING 1
        ),
        reservation AS (
            INSERT INTO budget_reservations (id, request_id, amount_nanos, created_at, expires_at)
            SELECT $6::text, $7::text, $5::bigint, $8::bigint, $9::bigint FROM verdict WHERE ok
            RETURNING 1
        ),
        items AS (
            INSERT INTO budget_reservation_items (reservation_id, scope, period, period_start, cap_nanos)
            SELECT $6::text, w.scope, w.period, w.period_start, w.cap FROM wanted w CROSS JOIN verdict v WHERE v.ok
            RETURNING 1
        )
        SELECT w.ord, l.spent_nanos, l.reserved_nanos, v.ok
        FROM wanted w LEFT JOIN locked l USING (scope, period, period_start) CROSS JOIN verdict v
        ORDER BY w.ord;
        """;

    /// <summary>
    /// The token every Npgsql call of this store gets: none. Npgsql cancels a command whose token fires by sending
    /// PostgreSQL's cancel request synchronously inside the token's callback; with inline socket completions (the
    /// <c>modelmix serve</c> default) the socket event thread that must complete that request can at the same moment be
    /// blocked disposing the same callback registration, and every socket of the process stops (issue 29: a client
    /// hanging up while its reservation waited did that, with a hot key's counter row locked mid-transaction). Callers'
    /// tokens are honoured before a statement is sent, never during one; statements are short and Npgsql's command
    /// timeout bounds them.
    /// </summary>
    private static CancellationToken Uncancellable => CancellationToken.None;

    /// <summary>
    /// In one transaction: reclaims every reservation and lease past its expiry, releases the held tails of reclaimed
    /// leases past theirs, and purges reclaimed rows older than <see cref="BudgetRetention.Reclaimed"/>; reports the
    /// overruns booked once committed. Returns how many holds were reclaimed or released.
    /// </summary>
    private async Task<int> ReconcileCoreAsync(DateTimeOffset at, CancellationToken cancellationToken)
    {
        var now = SqliteLedgerSchema.ToStoredTimestamp(at);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // SKIP LOCKED: a reservation another replica is settling or reclaiming right now is left to it.
        var expired = new List<(string Id, string RequestId, long Amount, long LeaseSpent, long? LeaseTtl, bool Closed, long Tail)>();
        await using (var select = Command(connection, transaction,
            """
            SELECT id, request_id, amount_nanos, lease_spent_nanos, lease_ttl, reclaimed_at IS NOT NULL, tail_nanos FROM budget_reservations
            WHERE expires_at <= @now AND (reclaimed_at IS NULL OR tail_nanos > 0)
              AND id IN (SELECT id FROM budget_reservations WHERE reclaimed_at IS NULL AND expires_at <= @now
                         UNION ALL SELECT id FROM budget_reservations WHERE tail_nanos > 0 AND expires_at <= @now)
            ORDER BY id FOR UPDATE SKIP LOCKED;
            """))
        {
            select.Parameters.AddWithValue("now", now);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                expired.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.IsDBNull(4) ? null : reader.GetInt64(4), reader.GetBoolean(5), reader.GetInt64(6)));
            }
        }

        List<BudgetOverrunBooked>? booked = null;
        if (expired.Count > 0)
        {
            await LockCountersAsync(connection, transaction, expired.ConvertAll(item => item.Id), cancellationToken);
            var requests = new List<(string Id, string RequestId, long Amount)>();
            foreach (var (id, requestId, amount, leaseSpent, leaseTtl, closed, tail) in expired)
            {
                if (closed)
                {
                    // A reclaimed lease's tail, past its extra life: late records no longer draw on it.
                    await ApplyToItemsAsync(connection, transaction, id, release: tail, charge: 0, cancellationToken);
                    await using var release = Command(connection, transaction, Sql.ReleaseTail);
                    release.Parameters.AddWithValue("id", id);
                    await release.ExecuteNonQueryAsync(cancellationToken);
                }
                else if (BudgetLeaseIds.IsLease(id))
                {
                    // A lease (of a replica that died or could not renew it) is charged what its records cost
                    // (PostgresBudgetStore.Leases.cs); its unspent slice stays held for one more lease life (its tail), so
                    // records of requests still running when it was reclaimed are charged against it, not against money
                    // other replicas took since.
                    var keep = BudgetHoldEnd.LeaseTail(amount, leaseSpent, leaseTtl);
                    await ApplyToItemsAsync(connection, transaction, id, release: amount - keep, charge: leaseSpent, cancellationToken);
                    await using var close = Command(connection, transaction, Sql.CloseLease);
                    Bind(close, ("now", now), ("c", leaseSpent), ("t", keep), ("e", now + (leaseTtl ?? 0)), ("id", id));
                    await close.ExecuteNonQueryAsync(cancellationToken);
                }
                else
                {
                    requests.Add((id, requestId, amount));
                }
            }

            if (requests.Count > 0)
            {
                booked = await ReclaimReservationsAsync(connection, transaction, requests, now, cancellationToken);
            }
        }

        await using (var purge = Command(connection, transaction, Sql.PurgeReclaimed))
        {
            purge.Parameters.AddWithValue("old", SqliteLedgerSchema.ToStoredTimestamp(at - BudgetRetention.Reclaimed));
            await purge.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        BudgetOverrunMetrics.Report(booked);
        return expired.Count;
    }

    /// <summary>
    /// Reclaims expired per-request reservations (rows and counters locked): each is charged what its request recorded in
    /// the ledger under the same rule as a live settlement (<see cref="BudgetOverrunRule"/>: its hold is the slack; the
    /// whole hold when an attempt with tokens is unpriced; nothing without a ledger), in id order against the counters as
    /// the earlier ones leave them; what is beyond is booked as the request's overrun on its last priced row.
    /// </summary>
    /// <returns>The overruns booked, to report once committed; null when none.</returns>
    private static async Task<List<BudgetOverrunBooked>?> ReclaimReservationsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<(string Id, string RequestId, long Amount)> requests, long now, CancellationToken cancellationToken)
    {
        var costs = await HasLedgerAsync(connection, transaction, cancellationToken)
            ? await RecordedCostsAsync(connection, transaction, requests.Select(item => item.RequestId), cancellationToken)
            : null;
        var ids = requests.ConvertAll(item => item.Id).ToArray();
        var amounts = requests.ConvertAll(item => item.Amount);
        var recorded = requests.ConvertAll(item => costs is null ? 0 : costs.TryGetValue(item.RequestId, out var cost) ? cost ?? item.Amount : 0).ToArray();
        var charges = (long[])recorded.Clone();
        var overruns = await BoundChargesAsync(connection, transaction, ids, amounts.ToArray(), charges, amounts, cancellationToken); // PostgresBudgetStore.Overruns.cs
        var overrunRequests = new List<string>();
        var overrunNanos = new List<long>();
        for (var i = 0; i < ids.Length; i++)
        {
            await ApplyToItemsAsync(connection, transaction, ids[i], release: amounts[i], charge: charges[i], cancellationToken);

            // What the ledger showed is accounted for (charged or booked as overrun): a late settlement charges only what came after.
            await using var mark = Command(connection, transaction, Sql.MarkReclaimed);
            Bind(mark, ("now", now), ("c", recorded[i]), ("id", ids[i]));
            await mark.ExecuteNonQueryAsync(cancellationToken);
            if (overruns[i] > 0)
            {
                overrunRequests.Add(requests[i].RequestId);
                overrunNanos.Add(overruns[i]);
            }
        }

        if (overrunRequests.Count == 0)
        {
            return null;
        }

        var booked = new List<BudgetOverrunBooked>(overrunRequests.Count);
        await using var book = new NpgsqlCommand(BookOverrunsSql, connection, transaction);
        book.Parameters.Add(new NpgsqlParameter { Value = overrunRequests.ToArray() });
        book.Parameters.Add(new NpgsqlParameter { Value = overrunNanos.ToArray() });
        await using var reader = await book.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            booked.Add(new BudgetOverrunBooked(reader.GetString(0), BudgetMoney.ToUsd(reader.GetInt64(1))));
        }

        return booked;
    }

    /// <summary>
    /// Settles reservations inside the ledger's batch transaction, after the requests' records: each is released and
    /// charged what the ledger now holds for its request (the whole hold when an attempt with tokens is unpriced), so
    /// budget and ledger agree by construction. Reservation rows are locked in id order; one already reclaimed is
    /// charged only what its reclaim did not, one already settled is left alone. Everything that can be worked out
    /// before the counters are locked is (the requests' recorded costs, in one query); then the counters are locked in
    /// the global order reservations lock them and each is updated once with the batch's summed amounts, and the
    /// reservations deleted, in one round trip. A batch settling hundreds of holds of one hot key therefore holds that
    /// key's counter row for one round trip and its commit, not for three round trips per hold (issue 29: with the
    /// row held that long, reservations on every replica queued behind it until their requests gave up).
    /// </summary>
    /// <returns>The overruns booked to no key (<see cref="BudgetOverrunRule"/>), to report once committed; null when none.</returns>
    internal static async Task<List<BudgetOverrunBooked>?> SettleFromLedgerAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<ReservationSettlement> settlements, CancellationToken cancellationToken)
    {
        if (settlements.Count == 0)
        {
            return null;
        }

        var held = await LockReservationsAsync(connection, transaction, settlements.Select(item => item.ReservationId), cancellationToken);
        if (held.Count == 0)
        {
            return null;
        }

        var settled = new List<(string ReservationId, string RequestId, HeldReservation Reservation)>(held.Count);
        foreach (var settlement in settlements)
        {
            if (held.Remove(settlement.ReservationId, out var reservation))
            {
                settled.Add((settlement.ReservationId, settlement.RequestId, reservation));
            }
        }

        var costs = await RecordedCostsAsync(connection, transaction, settled.Select(item => item.RequestId), cancellationToken);
        var ids = new string[settled.Count];
        var releases = new long[settled.Count];
        var charges = new long[settled.Count];
        for (var i = 0; i < settled.Count; i++)
        {
            var (reservationId, requestId, reservation) = settled[i];

            // A request with no records costs nothing; one with an unpriced attempt is charged its whole hold.
            var actual = costs.TryGetValue(requestId, out var cost) ? cost ?? reservation.Amount : 0;
            ids[i] = reservationId;
            (releases[i], charges[i]) = BudgetHoldEnd.Settle(reservation.Amount, reservation.Reclaimed, actual);
        }

        // Locks the counters (global order) and bounds each charge to cap + its hold (BudgetOverrunRule), in batch order
        // against the counters as the earlier settlements of the batch leave them; the rest is charged to no key.
        var overruns = await BoundChargesAsync(connection, transaction, ids, releases, charges, settled.ConvertAll(item => item.Reservation.Amount), cancellationToken); // PostgresBudgetStore.Overruns.cs
        var overrunRequests = new List<string>();
        var overrunNanos = new List<long>();
        for (var i = 0; i < settled.Count; i++)
        {
            if (overruns[i] > 0)
            {
                overrunRequests.Add(settled[i].RequestId);
                overrunNanos.Add(overruns[i]);
            }
        }

        var batch = new NpgsqlBatch(connection, transaction);
        await using (batch)
        {
            if (overrunRequests.Count > 0)
            {
                batch.BatchCommands.Add(BatchCommand(BookOverrunsSql, overrunRequests.ToArray(), overrunNanos.ToArray()));
            }

            batch.BatchCommands.Add(BatchCommand(
                """
                UPDATE budget_counters c
                SET reserved_nanos = GREATEST(0, c.reserved_nanos - d.release), spent_nanos = c.spent_nanos + d.charge
                FROM (
                    SELECT i.scope, i.period, i.period_start, SUM(s.release)::bigint AS release, SUM(s.charge)::bigint AS charge
                    FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS s(id, release, charge)
                    JOIN budget_reservation_items i ON i.reservation_id = s.id
                    GROUP BY i.scope, i.period, i.period_start) d
                WHERE c.scope = d.scope AND c.period = d.period AND c.period_start = d.period_start;
                """,
                (object)ids, releases, charges));
            batch.BatchCommands.Add(BatchCommand("DELETE FROM budget_reservation_items WHERE reservation_id = ANY($1);", (object)ids));
            batch.BatchCommands.Add(BatchCommand("DELETE FROM budget_reservations WHERE id = ANY($1);", (object)ids));
            if (overrunRequests.Count == 0)
            {
                await batch.ExecuteNonQueryAsync(cancellationToken);
                return null;
            }

            var booked = new List<BudgetOverrunBooked>(overrunRequests.Count);
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                booked.Add(new BudgetOverrunBooked(reader.GetString(0), BudgetMoney.ToUsd(reader.GetInt64(1))));
            }

            while (await reader.NextResultAsync(cancellationToken))
            {
            }

            return booked;
        }
    }

    /// <summary>
    /// In the transaction that moves a dead process's attempts into the ledger as <c>outcome_unknown</c> rows: charges each
    /// reconciled record (<paramref name="reconciled"/>: the stored record and the reservation or lease its intent named,
    /// in reconciliation order) under the overrun rule (<see cref="BudgetOverrunRule"/>) like a live settlement — a
    /// lease's records as the ledger batch charges them (its free slice or held tail, then the room up to its caps, no
    /// slack; PostgresBudgetStore.LeaseCharges.cs); a per-request reservation only once a sweep reclaimed it (before that,
    /// its reclaim or settlement sums the ledger), with its own hold as the slack and no free money (the hold was
    /// released), in turn against the counters as the earlier charges leave them. What does not fit is booked as the
    /// record's <c>overrun_usd</c>. An unpriced record with tokens charges what is left of its reservation's hold (nothing
    /// to a lease), bounded the same way; what does not fit of it is booked nowhere (it is no cost the ledger knows).
    /// Locks reservation (and lease) rows, then counters in the global order.
    /// </summary>
    /// <returns>The overruns booked, to report once committed; null when none.</returns>
    internal static async Task<List<BudgetOverrunBooked>?> ChargeReconciledAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<(LedgerRecord Record, string ReservationId)> reconciled, CancellationToken cancellationToken)
    {
        List<BudgetOverrunBooked>? booked = null;
        var leased = reconciled.Where(item => BudgetLeaseIds.IsLease(item.ReservationId)).ToList();
        if (leased.Count > 0)
        {
            booked = await ChargeLeasesAsync(connection, transaction, leased, cancellationToken); // PostgresBudgetStore.Leases.cs
        }

        var requests = reconciled.Where(item => !BudgetLeaseIds.IsLease(item.ReservationId)).ToList();
        if (requests.Count == 0)
        {
            return booked;
        }

        var held = await LockReservationsAsync(connection, transaction, requests.Select(item => item.ReservationId), cancellationToken);
        var due = new List<(LedgerRecord Record, string ReservationId, long Hold, long Due)>(requests.Count);
        foreach (var (record, reservationId) in requests)
        {
            if (!held.TryGetValue(reservationId, out var reservation) || reservation.Reclaimed is not { } accounted)
            {
                continue; // not reclaimed yet (its reclaim or settlement sums the ledger), or purged
            }

            var nanos = LedgerIntentRows.ReclaimedCharge(record) ?? Math.Max(0, reservation.Amount - accounted);
            held[reservationId] = reservation with { Reclaimed = accounted + nanos };
            due.Add((record, reservationId, reservation.Amount, nanos));
        }

        if (due.Count == 0)
        {
            return booked;
        }

        var ids = due.ConvertAll(item => item.ReservationId).ToArray();
        var charges = due.ConvertAll(item => item.Due).ToArray();
        var overruns = await BoundChargesAsync(connection, transaction, ids, new long[ids.Length], charges, due.ConvertAll(item => item.Hold), cancellationToken); // PostgresBudgetStore.Overruns.cs
        var rowIds = new List<string>();
        var rowTimestamps = new List<long>();
        var rowNanos = new List<long>();
        for (var i = 0; i < ids.Length; i++)
        {
            await ApplyToItemsAsync(connection, transaction, ids[i], release: 0, charge: charges[i], cancellationToken);

            // Accounted for (charged or booked as overrun): a late settlement charges only what came after.
            await using var mark = Command(connection, transaction, "UPDATE budget_reservations SET reclaimed_nanos = reclaimed_nanos + @c WHERE id = @id;");
            Bind(mark, ("c", due[i].Due), ("id", ids[i]));
            await mark.ExecuteNonQueryAsync(cancellationToken);
            if (overruns[i] > 0 && due[i].Record.Cost is not null)
            {
                rowIds.Add(due[i].Record.Id);
                rowTimestamps.Add(SqliteLedgerSchema.ToStoredTimestamp(due[i].Record.Timestamp));
                rowNanos.Add(overruns[i]);
            }
        }

        if (rowIds.Count > 0)
        {
            await using var book = new NpgsqlCommand(BookRowOverrunsSql, connection, transaction);
            book.Parameters.Add(new NpgsqlParameter { Value = rowIds.ToArray() });
            book.Parameters.Add(new NpgsqlParameter { Value = rowTimestamps.ToArray() });
            book.Parameters.Add(new NpgsqlParameter { Value = rowNanos.ToArray() });
            await using var reader = await book.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                (booked ??= []).Add(new BudgetOverrunBooked(reader.GetString(0), BudgetMoney.ToUsd(reader.GetInt64(1))));
            }
        }

        return booked;
    }

    private readonly record struct HeldReservation(long Amount, long? Reclaimed);

    private static async Task<Dictionary<string, HeldReservation>> LockReservationsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var held = new Dictionary<string, HeldReservation>(StringComparer.Ordinal);
        await using var read = Command(connection, transaction, "SELECT id, amount_nanos, reclaimed_at, reclaimed_nanos FROM budget_reservations WHERE id = ANY(@ids) ORDER BY id FOR UPDATE;");
        read.Parameters.AddWithValue("ids", ids.Distinct(StringComparer.Ordinal).ToArray());
        await using var reader = await read.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            held[reader.GetString(0)] = new HeldReservation(reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetInt64(3));
        }

        return held;
    }

    /// <summary>Locks the counters the reservations hold money in, in the global order reservations lock them.</summary>
    private static async Task LockCountersAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<string> reservationIds, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, LockCountersSql);
        command.Parameters.Add(new NpgsqlParameter { Value = reservationIds.ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Locks the counters the reservations <c>$1</c> hold money in, in the global order reservations lock them.</summary>
    private const string LockCountersSql =
        """
        SELECT 1 FROM budget_counters
        WHERE (scope, period, period_start) IN (SELECT scope, period, period_start FROM budget_reservation_items WHERE reservation_id = ANY($1))
        ORDER BY scope COLLATE "C", period COLLATE "C", period_start
        FOR UPDATE;
        """;

    /// <summary>
    /// The cost the ledger recorded for each of the requests that has records, in nano-dollars; null when one of its
    /// attempts with tokens could not be priced (then the whole reservation is charged, erring on the side of the budget).
    /// </summary>
    private static async Task<Dictionary<string, long?>> RecordedCostsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<string> requestIds, CancellationToken cancellationToken)
    {
        var costs = new Dictionary<string, long?>(StringComparer.Ordinal);
        await using var command = Command(connection, transaction,
            "SELECT request_id, bool_or(cost_total IS NULL AND input_tokens + output_tokens > 0), COALESCE(SUM(cost_total), 0) FROM ledger_records WHERE request_id = ANY($1) GROUP BY request_id;");
        command.Parameters.Add(new NpgsqlParameter { Value = requestIds.Distinct(StringComparer.Ordinal).ToArray() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            costs[reader.GetString(0)] = reader.GetBoolean(1) ? null : BudgetMoney.ToNanos(reader.GetDecimal(2));
        }

        return costs;
    }

    private static async Task<bool> HasLedgerAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, "SELECT to_regclass('ledger_records') IS NOT NULL;");
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task ApplyToItemsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string reservationId, long release, long charge, CancellationToken cancellationToken)
    {
        await using var update = Command(connection, transaction, Sql.ApplyToItems);
        Bind(update, ("release", release), ("charge", charge), ("id", reservationId));
        await update.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="action"/> again (a fresh transaction) when PostgreSQL reports a deadlock or a serialization
    /// failure; a transient error that remains (<see cref="StoreFaults"/>) is thrown as a <see cref="StoreUnavailableException"/> of <paramref name="operation"/>.
    /// </summary>
    private static async Task<T> RetryTransientAsync<T>(string operation, Func<CancellationToken, Task<T>> action, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await action(cancellationToken);
            }
            catch (PostgresException exception) when (attempt < MaxTransientRetries && exception.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10 * attempt), cancellationToken);
            }
            catch (Exception exception) when (StoreFaults.ShouldWrap(exception))
            {
                throw StoreFaults.Unavailable(operation, exception);
            }
        }
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql) => new(sql, connection, transaction);

    private static NpgsqlBatchCommand BatchCommand(string sql, params ReadOnlySpan<object> values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return command;
    }

    private static void Bind(NpgsqlCommand command, params ReadOnlySpan<(string Name, object Value)> values)
    {
        command.Parameters.Clear();
        foreach (var (name, value) in values)
        {
            command.Parameters.AddWithValue(name, value);
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private async Task EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            await _migrations.EnsureMigratedAsync(Uncancellable);
        }
        catch (Exception exception) when (StoreFaults.ShouldWrap(exception))
        {
            throw StoreFaults.Unavailable("budgets.migrate", exception);
        }
    }
}
