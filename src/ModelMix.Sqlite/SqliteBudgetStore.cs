using Microsoft.Data.Sqlite;
using ModelMix.Ledger;
using ModelMix.Stores;

namespace ModelMix.Budgets;

/// <summary>
/// Budget counters and reservations in a SQLite file (normally the ledger's own file, so a crash can be reconciled
/// against the ledger). Atomic across threads and processes: every reservation and settlement is one
/// <c>BEGIN IMMEDIATE</c> transaction (SQLite's single writer lock), and a reservation is a conditional
/// <c>UPDATE … SET reserved = reserved + @amount WHERE spent + reserved + @amount &lt;= @cap</c> on integer
/// nano-dollars, so no interleaving of requests can push a period past its cap. Within one process, writes are also
/// serialized on one connection, so they never wait on SQLite's busy handler. Several replicas of the proxy on
/// different machines need the shared (PostgreSQL) store instead.
/// </summary>
public sealed partial class SqliteBudgetStore : IBudgetStore
{
    /// <summary>The component name in <c>modelmix_schema_versions</c>.</summary>
    public const string Component = "budgets";

    /// <summary>How long a reclaimed reservation is kept (so a late settlement charges only what the reclaim did not).</summary>
    public static readonly TimeSpan ReclaimedRetention = BudgetRetention.Reclaimed;

    private static readonly string[] Migrations =
    [
        // 1: counters per scope, window and period; reservations and the counters each one holds money in.
        // Amounts are INTEGER nano-dollars (see BudgetMoney); instants are 100 ns ticks since the Unix epoch (UTC).
        """
        CREATE TABLE budget_counters (
            scope          TEXT    NOT NULL,
            period         TEXT    NOT NULL,
            period_start   INTEGER NOT NULL,
            spent_nanos    INTEGER NOT NULL DEFAULT 0,
            reserved_nanos INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (scope, period, period_start)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE budget_reservations (
            id              TEXT    PRIMARY KEY,
            request_id      TEXT    NOT NULL,
            amount_nanos    INTEGER NOT NULL,
            created_at      INTEGER NOT NULL,
            expires_at      INTEGER NOT NULL,
            reclaimed_at    INTEGER,
            reclaimed_nanos INTEGER
        ) STRICT;
        CREATE INDEX ix_budget_reservations_expires_at ON budget_reservations (expires_at) WHERE reclaimed_at IS NULL;
        CREATE TABLE budget_reservation_items (
            reservation_id TEXT    NOT NULL,
            scope          TEXT    NOT NULL,
            period         TEXT    NOT NULL,
            period_start   INTEGER NOT NULL,
            PRIMARY KEY (reservation_id, scope, period)
        ) STRICT, WITHOUT ROWID;
        """,

        // 2: budget leases (issue 29, SqliteBudgetStore.Leases.cs): a lease is a budget_reservations row whose id starts
        // with "lse_"; amount_nanos is the slice it holds, lease_spent_nanos what records journaled against it cost.
        """
        ALTER TABLE budget_reservations ADD COLUMN lease_spent_nanos INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE budget_reservations ADD COLUMN instance_id TEXT;
        """,

        // 3: the cap each hold was taken under (nano-dollars), so settlement can bound what a key is charged
        // (BudgetOverrunRule, docs/keys-and-budgets.md "Overshoot"); NULL for holds taken before this step (charged in full).
        "ALTER TABLE budget_reservation_items ADD COLUMN cap_nanos INTEGER;",

        // 4: a lease's life (lease_ttl, 100 ns ticks) and, once a sweep reclaimed it, the part of its slice still held for
        // its late records (tail_nanos) until expires_at (reclaim + lease_ttl): docs/keys-and-budgets.md "Budget leases".
        """
        ALTER TABLE budget_reservations ADD COLUMN lease_ttl INTEGER;
        ALTER TABLE budget_reservations ADD COLUMN tail_nanos INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX ix_budget_reservations_tail ON budget_reservations (expires_at) WHERE tail_nanos > 0;
        """,
    ];

    /// <summary>The statements both budget stores share, in SQLite's dialect.</summary>
    private static readonly BudgetStoreDialect Sql = BudgetStoreDialect.Sqlite;

    private readonly SqliteStoreFile _file;
    private readonly SqliteWriterGate _gate; // the write connection and its lock (SqliteWriterGate.cs)
    private bool _migrated;

    /// <summary>Creates a store over the SQLite file at <paramref name="path"/> (created when missing).</summary>
    public SqliteBudgetStore(string path)
        : this(path, SqliteStoreFile.BusyTimeout)
    {
    }

    /// <summary>
    /// Creates a store whose statements wait <paramref name="busyTimeout"/> for another connection's lock before failing
    /// (<see cref="SqliteStoreFile(string, TimeSpan?)"/>; tests use a short one to see a busy file fail at once).
    /// </summary>
    internal SqliteBudgetStore(string path, TimeSpan busyTimeout)
    {
        _file = new SqliteStoreFile(path, busyTimeout);
        // Its writes can book overrun on ledger rows (a reclaimed reservation), whose rollup trigger needs the decimal functions.
        _gate = new SqliteWriterGate(_file, GetType().FullName!, SqliteLedgerRollups.RegisterFunctions);
    }

    /// <summary>The full path of the database file.</summary>
    public string Path => _file.Path;

    /// <inheritdoc />
    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        using var lease = await _gate.EnterAsync(cancellationToken);
        SqliteStoreFile.Migrate(lease.Connection, Component, Migrations, Path);
        _migrated = true;
    }

    /// <inheritdoc />
    public async Task<BudgetReserveResult> ReserveAsync(string requestId, IReadOnlyList<BudgetLimit> limits, decimal amountUsd, DateTimeOffset at, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        var plan = BudgetHoldPlan.Create(requestId, limits, amountUsd, at, ttl);
        try
        {
            await EnsureMigratedAsync(cancellationToken);
            using var lease = await _gate.EnterAsync(cancellationToken);
            var result = TryReserve(lease.Connection, plan);
            // Stryker disable once Equality : equivalent (docs/testing.md, budgets-sqlite): retrying after a sweep that reclaimed nothing (>= 0) refuses again the same way
            if (result.Refusal is not null && Reconcile(lease.Connection, at) > 0)
            {
                // Money held by a dead process may be what is in the way: reclaim it and try once more.
                result = TryReserve(lease.Connection, plan);
            }

            return result;
        }
        catch (Exception exception) when (StoreFaults.ShouldWrap(exception))
        {
            throw StoreFaults.Unavailable("budgets.reserve", exception);
        }
    }

    /// <inheritdoc />
    public async Task SettleAsync(BudgetReservation reservation, decimal actualUsd, CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        ArgumentNullException.ThrowIfNull(reservation);
        var actual = BudgetMoney.ToNanos(actualUsd);
        try
        {
            await EnsureMigratedAsync(cancellationToken);
            using var lease = await _gate.EnterAsync(cancellationToken);
            using var transaction = lease.Connection.BeginTransaction(deferred: false);
            await Sql.SettleAsync(lease.Connection, transaction, reservation.Id, actual, cancellationToken);
            transaction.Commit();
        }
        catch (Exception exception) when (StoreFaults.ShouldWrap(exception))
        {
            throw StoreFaults.Unavailable("budgets.settle", exception);
        }
    }

    /// <inheritdoc />
    public async Task<int> ReconcileExpiredAsync(DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        try
        {
            await EnsureMigratedAsync(cancellationToken);
            using var lease = await _gate.EnterAsync(cancellationToken);
            return Reconcile(lease.Connection, at);
        }
        catch (Exception exception) when (StoreFaults.ShouldWrap(exception))
        {
            throw StoreFaults.Unavailable("budgets.reconcile", exception);
        }
    }

    /// <inheritdoc />
    public async Task<BudgetUsage> GetUsageAsync(string scope, BudgetWindow window, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        ArgumentException.ThrowIfNullOrEmpty(scope);
        await EnsureMigratedAsync(cancellationToken);
        await using var connection = await _file.OpenReaderAsync(cancellationToken);
        return await Sql.ReadUsageAsync(connection, scope, window, at, cancellationToken);
    }

    /// <summary>Closes the write connection.</summary>
    public ValueTask DisposeAsync() => _gate.DisposeAsync();

    /// <summary>
    /// Holds the plan's amount in each of its counters with a conditional <c>UPDATE</c> in one write transaction; on the
    /// first counter without room, rolls back and refuses.
    /// </summary>
    private static BudgetReserveResult TryReserve(SqliteConnection connection, BudgetHoldPlan plan)
    {
        // Stryker disable once Boolean : equivalent (docs/testing.md, budgets-sqlite): its first statement writes, and SQLite retries a write that opens the transaction through the busy handler from a fresh snapshot, as BEGIN IMMEDIATE waits (SqliteBudgetStoreContentionTests passes with it)
        using var transaction = connection.BeginTransaction(deferred: false);
        using var ensure = Command(connection, transaction, "INSERT INTO budget_counters (scope, period, period_start) VALUES ($s, $p, $ps) ON CONFLICT DO NOTHING;");
        using var hold = Command(connection, transaction,
            "UPDATE budget_counters SET reserved_nanos = reserved_nanos + $a WHERE scope = $s AND period = $p AND period_start = $ps AND spent_nanos + reserved_nanos + $a <= $cap;");
        foreach (var counter in plan.Counters)
        {
            Bind(ensure, ("$s", counter.Scope), ("$p", counter.Period), ("$ps", counter.Start));
            ensure.ExecuteNonQuery();
            Bind(hold, ("$s", counter.Scope), ("$p", counter.Period), ("$ps", counter.Start), ("$a", plan.Amount), ("$cap", counter.Cap));
            if (hold.ExecuteNonQuery() == 0)
            {
                using var read = Command(connection, transaction, "SELECT spent_nanos, reserved_nanos FROM budget_counters WHERE scope = $s AND period = $p AND period_start = $ps;");
                Bind(read, ("$s", counter.Scope), ("$p", counter.Period), ("$ps", counter.Start));
                using var reader = read.ExecuteReader();
                reader.Read();
                var refused = plan.Refused(counter, reader.GetInt64(0), reader.GetInt64(1));
                // Stryker disable once Statement : equivalent (docs/testing.md, budgets-sqlite): the using disposes the reader before the rollback ends the transaction anyway
                reader.Close();
                // Stryker disable once Statement : equivalent (docs/testing.md, budgets-sqlite): the using disposes the transaction, which rolls it back
                transaction.Rollback();
                return refused;
            }
        }

        var reservation = plan.Reservation;
        using (var insert = Command(connection, transaction, "INSERT INTO budget_reservations (id, request_id, amount_nanos, created_at, expires_at) VALUES ($id, $r, $a, $c, $e);"))
        {
            Bind(insert, ("$id", reservation.Id), ("$r", reservation.RequestId), ("$a", plan.Amount), ("$c", plan.StoredCreatedAt), ("$e", plan.StoredExpiresAt));
            insert.ExecuteNonQuery();
        }

        using (var insertItem = Command(connection, transaction, "INSERT INTO budget_reservation_items (reservation_id, scope, period, period_start, cap_nanos) VALUES ($id, $s, $p, $ps, $cap);"))
        {
            foreach (var counter in plan.Counters)
            {
                Bind(insertItem, ("$id", reservation.Id), ("$s", counter.Scope), ("$p", counter.Period), ("$ps", counter.Start), ("$cap", counter.Cap));
                insertItem.ExecuteNonQuery();
            }
        }

        transaction.Commit();
        return plan.Made;
    }

    /// <summary>Reclaims what is expired (<see cref="ReconcileCore"/>) and reports the overruns it booked once committed.</summary>
    private static int Reconcile(SqliteConnection connection, DateTimeOffset at)
    {
        var booked = new List<BudgetOverrunBooked>();
        var count = ReconcileCore(connection, at, booked);
        BudgetOverrunMetrics.Report(booked);
        return count;
    }

    /// <summary>
    /// In one transaction: reclaims every reservation and lease past its expiry, releases the held tails of reclaimed
    /// leases past theirs, and purges reclaimed rows older than <see cref="ReclaimedRetention"/>. Returns how many holds were
    /// reclaimed or released.
    /// </summary>
    private static int ReconcileCore(SqliteConnection connection, DateTimeOffset at, List<BudgetOverrunBooked> booked)
    {
        var now = SqliteLedgerSchema.ToStoredTimestamp(at);
        using var transaction = connection.BeginTransaction(deferred: false);
        var expired = new List<(string Id, string RequestId, long Amount, long LeaseSpent, long? LeaseTtl, long? Tail)>();
        using (var select = Command(connection, transaction,
            "SELECT id, request_id, amount_nanos, lease_spent_nanos, lease_ttl, NULL FROM budget_reservations WHERE reclaimed_at IS NULL AND expires_at <= $now " +
            "UNION ALL SELECT id, request_id, amount_nanos, lease_spent_nanos, lease_ttl, tail_nanos FROM budget_reservations WHERE tail_nanos > 0 AND expires_at <= $now AND reclaimed_at IS NOT NULL;"))
        {
            select.Parameters.AddWithValue("$now", now);
            using var reader = select.ExecuteReader();
            while (reader.Read())
            {
                expired.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.IsDBNull(4) ? null : reader.GetInt64(4), reader.IsDBNull(5) ? null : reader.GetInt64(5)));
            }
        }

        var ledger = HasLedger(connection, transaction);
        foreach (var (id, requestId, amount, leaseSpent, leaseTtl, tail) in expired)
        {
            if (tail is { } held)
            {
                // A reclaimed lease's tail, past its extra life: late records no longer draw on it.
                ApplyToItems(connection, transaction, id, release: held, charge: 0);
                using var release = Command(connection, transaction, Sql.ReleaseTail);
                release.Parameters.AddWithValue("$id", id);
                release.ExecuteNonQuery();
                continue;
            }

            if (BudgetLeaseIds.IsLease(id))
            {
                // A lease (of a process that died or could not renew it) is charged what its records cost
                // (SqliteBudgetStore.Leases.cs); its unspent slice stays held for one more lease life (its tail), so records of
                // requests still running when it was reclaimed are charged against it, not against money others took since.
                var keep = BudgetHoldEnd.LeaseTail(amount, leaseSpent, leaseTtl);
                ApplyToItems(connection, transaction, id, release: amount - keep, charge: leaseSpent);
                using var close = Command(connection, transaction, Sql.CloseLease);
                Bind(close, ("$now", now), ("$c", leaseSpent), ("$t", keep), ("$e", now + (leaseTtl ?? 0)), ("$id", id));
                close.ExecuteNonQuery();
                continue;
            }

            // A reservation of a dead (or very slow) process: charged what its request recorded, under the same rule as a
            // live settlement (BudgetOverrunRule: its hold is the slack); what is beyond is booked as the request's overrun.
            // An unpriced attempt with tokens charges the whole hold, as settling does.
            var recorded = ledger ? RecordedCost(connection, transaction, requestId) ?? amount : 0;
            var (charge, overrun) = BudgetOverrunRule.Split(recorded, BudgetOverrunRule.Chargeable(amount, slack: amount, ReadCounters(connection, transaction, id)));
            ApplyToItems(connection, transaction, id, release: amount, charge: charge);
            if (overrun > 0)
            {
                BookOverrun(connection, transaction, requestId, overrun, booked); // SqliteBudgetStore.Overruns.cs
            }

            // What the ledger showed is accounted for (charged or booked as overrun): a late settlement charges only what came after.
            using var mark = Command(connection, transaction, Sql.MarkReclaimed);
            Bind(mark, ("$now", now), ("$c", recorded), ("$id", id));
            mark.ExecuteNonQuery();
        }

        using (var purge = Command(connection, transaction, Sql.PurgeReclaimed))
        {
            purge.Parameters.AddWithValue("$old", SqliteLedgerSchema.ToStoredTimestamp(at - ReclaimedRetention));
            purge.ExecuteNonQuery();
        }

        transaction.Commit();
        return expired.Count;
    }

    /// <summary>
    /// Settles a reservation inside the ledger's batch transaction (on the ledger's connection to the same file), after
    /// the request's records: releases the hold and charges what the ledger now holds for the request (the whole hold
    /// when an attempt with tokens is unpriced), so budget and ledger agree by construction. A reservation already
    /// reclaimed is charged only what its reclaim did not; one already settled is left alone.
    /// </summary>
    internal static void SettleFromLedger(SqliteConnection connection, SqliteTransaction transaction, string reservationId, string requestId, List<BudgetOverrunBooked>? overruns = null)
    {
        // Stryker disable once Block,Statement : equivalent (docs/testing.md, budgets-sqlite): going on with a reservation that is gone finds no items and no hold: the updates change nothing and the delete deletes nothing
        if (!TryReadReservation(connection, transaction, reservationId, out var held, out var reclaimed))
        {
            return;
        }

        var (release, due) = BudgetHoldEnd.Settle(held, reclaimed, RecordedCost(connection, transaction, requestId) ?? held);

        // At most cap + this request's hold once the hold is released; the rest is charged to no key (BudgetOverrunRule).
        var (charge, overrun) = BudgetOverrunRule.Split(due, BudgetOverrunRule.Chargeable(release, slack: held, ReadCounters(connection, transaction, reservationId)));
        ApplyToItems(connection, transaction, reservationId, release: release, charge: charge);
        if (overrun > 0)
        {
            BookOverrun(connection, transaction, requestId, overrun, overruns); // SqliteBudgetStore.Overruns.cs
        }

        DeleteReservation(connection, transaction, reservationId);
    }

    /// <summary>
    /// In the transaction that stores a dead process's attempts as <c>outcome_unknown</c> rows (after their rollups):
    /// charges each reconciled record (<paramref name="reconciled"/>: the record and the reservation or lease its intent
    /// named, in reconciliation order) under the overrun rule (<see cref="BudgetOverrunRule"/>) like a live settlement —
    /// a lease's records as the ledger batch charges them (its free slice or held tail, then the room up to its caps, no
    /// slack); a per-request reservation only once a sweep reclaimed it (before that, its reclaim or settlement sums the
    /// ledger), with its own hold as the slack and no free money (the hold was released). What does not fit is booked as
    /// the record's <c>overrun_usd</c> and added to <paramref name="booked"/> (to report once committed). An unpriced
    /// record with tokens charges what is left of its reservation's hold (nothing to a lease), bounded the same way; what
    /// does not fit of it is booked nowhere (it is no cost the ledger knows).
    /// </summary>
    internal static void ChargeReconciled(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<(LedgerRecord Record, string ReservationId)> reconciled, List<BudgetOverrunBooked> booked)
    {
        Dictionary<string, string>? leaseOf = null;
        List<LedgerRecord>? leased = null;
        foreach (var (record, reservationId) in reconciled)
        {
            if (BudgetLeaseIds.IsLease(reservationId))
            {
                (leaseOf ??= new(StringComparer.Ordinal))[record.Id] = reservationId;
                (leased ??= []).Add(record);
                continue;
            }

            // Two steps, not `|| reclaimed is not { } accounted`: a pattern variable assigned on one side of `||` is
            // unassigned under Stryker's mutants of that condition, so it dropped every mutant of this method.
            if (!TryReadReservation(connection, transaction, reservationId, out var held, out var reclaimed) || reclaimed is null)
            {
                continue;
            }

            var accounted = reclaimed.Value;

            var due = LedgerIntentRows.ReclaimedCharge(record) ?? Math.Max(0, held - accounted);
            var (charge, overrun) = BudgetOverrunRule.Split(due, BudgetOverrunRule.Chargeable(0, slack: held, ReadCounters(connection, transaction, reservationId)));
            ApplyToItems(connection, transaction, reservationId, release: 0, charge: charge);
            if (overrun > 0 && record.Cost is not null)
            {
                BookOverrunOnRow(connection, transaction, record, overrun, booked); // SqliteBudgetStore.Overruns.cs
            }

            // Accounted for (charged or booked as overrun): a late settlement charges only what came after.
            using var mark = Command(connection, transaction, "UPDATE budget_reservations SET reclaimed_nanos = reclaimed_nanos + $c WHERE id = $id;");
            Bind(mark, ("$c", due), ("$id", reservationId));
            mark.ExecuteNonQuery();
        }

        if (leased is not null && ChargeGrouped(connection, transaction, leased, leaseOf!) is { } overruns) // SqliteBudgetStore.LeaseCharges.cs
        {
            foreach (var record in leased)
            {
                if (overruns.TryGetValue(record.Id, out var overrun))
                {
                    BookOverrunOnRow(connection, transaction, record, overrun, booked);
                }
            }
        }
    }

    private static bool TryReadReservation(SqliteConnection connection, SqliteTransaction transaction, string reservationId, out long held, out long? reclaimed)
    {
        using var read = Command(connection, transaction, Sql.ReadReservation);
        read.Parameters.AddWithValue("$id", reservationId);
        using var reader = read.ExecuteReader();
        if (!reader.Read())
        {
            held = 0;
            reclaimed = null;
            // Stryker disable once Boolean : equivalent (docs/testing.md, budgets-sqlite): a reservation that is gone then reads as held 0, never reclaimed: its callers find no items and change nothing
            return false;
        }

        held = reader.GetInt64(0);
        reclaimed = reader.IsDBNull(1) ? null : reader.GetInt64(2);
        return true;
    }

    /// <summary>
    /// The cost the ledger recorded for a request, in nano-dollars; null when one of its attempts could not be priced
    /// (then the whole reservation is charged, erring on the side of the budget).
    /// </summary>
    private static long? RecordedCost(SqliteConnection connection, SqliteTransaction transaction, string requestId)
    {
        using var command = Command(connection, transaction, "SELECT cost_total, input_tokens + output_tokens FROM ledger_records WHERE request_id = $r;");
        command.Parameters.AddWithValue("$r", requestId);
        using var reader = command.ExecuteReader();
        var total = 0m;
        while (reader.Read())
        {
            if (reader.IsDBNull(0))
            {
                if (reader.GetInt64(1) > 0)
                {
                    return null;
                }

                continue;
            }

            total += SqliteLedgerSchema.FromStoredDecimal(reader.GetString(0));
        }

        return BudgetMoney.ToNanos(total);
    }

    private static bool HasLedger(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = Command(connection, transaction, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_records';");
        return command.ExecuteScalar() is not null;
    }

    private static void ApplyToItems(SqliteConnection connection, SqliteTransaction transaction, string reservationId, long release, long charge)
    {
        using var update = Command(connection, transaction, Sql.ApplyToItems);
        Bind(update, ("$release", release), ("$charge", charge), ("$id", reservationId));
        update.ExecuteNonQuery();
    }

    private static void DeleteReservation(SqliteConnection connection, SqliteTransaction transaction, string reservationId)
    {
        using var delete = Command(connection, transaction, Sql.DeleteReservation);
        delete.Parameters.AddWithValue("$id", reservationId);
        delete.ExecuteNonQuery();
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    private static void Bind(SqliteCommand command, params ReadOnlySpan<(string Name, object Value)> values)
    {
        command.Parameters.Clear();
        foreach (var (name, value) in values)
        {
            command.Parameters.AddWithValue(name, value);
        }
    }

    private async Task EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        if (!Volatile.Read(ref _migrated))
        {
            await MigrateAsync(cancellationToken);
        }
    }

}
