using Microsoft.Data.Sqlite;
using ModelMix.Ledger;
using ModelMix.Stores;

namespace ModelMix.Budgets;

/// <summary>Budget leases in SQLite (issue 29; <see cref="IBudgetLeaseStore"/>, docs/keys-and-budgets.md "Budget leases").</summary>
public sealed partial class SqliteBudgetStore : IBudgetLeaseStore
{
    /// <inheritdoc />
    public async Task<long?> GrowLeaseAsync(string leaseId, bool create, string instanceId, IReadOnlyList<BudgetLimit> limits, long minNanos, long wantNanos, decimal share, DateTimeOffset at, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        ArgumentException.ThrowIfNullOrEmpty(leaseId);
        ArgumentNullException.ThrowIfNull(limits);
        try
        {
            await EnsureMigratedAsync(cancellationToken);
            using var lease = await _gate.EnterAsync(cancellationToken);
            var connection = lease.Connection;
            using var transaction = connection.BeginTransaction(deferred: false);
            var exists = TryReadLease(connection, transaction, leaseId, out _, out _, out var closed);
            if (closed || (!exists && !create))
            {
                return null;
            }

            var items = DistinctCounters(limits, at);
            var room = long.MaxValue;
            foreach (var (scope, period, start, cap) in items)
            {
                using var ensure = Command(connection, transaction, "INSERT INTO budget_counters (scope, period, period_start) VALUES ($s, $p, $ps) ON CONFLICT DO NOTHING;");
                Bind(ensure, ("$s", scope), ("$p", period), ("$ps", start));
                ensure.ExecuteNonQuery();
                using var read = Command(connection, transaction, "SELECT spent_nanos + reserved_nanos FROM budget_counters WHERE scope = $s AND period = $p AND period_start = $ps;");
                Bind(read, ("$s", scope), ("$p", period), ("$ps", start));
                room = Math.Min(room, cap - (long)read.ExecuteScalar()!);
            }

            if (room < minNanos)
            {
                return null;
            }

            var grant = BudgetLeases.Slice(room, minNanos, wantNanos, share);
            using (var hold = Command(connection, transaction, "UPDATE budget_counters SET reserved_nanos = reserved_nanos + $a WHERE scope = $s AND period = $p AND period_start = $ps;"))
            {
                foreach (var (scope, period, start, _) in items)
                {
                    Bind(hold, ("$a", grant), ("$s", scope), ("$p", period), ("$ps", start));
                    hold.ExecuteNonQuery();
                }
            }

            if (exists)
            {
                using var grow = Command(connection, transaction, "UPDATE budget_reservations SET amount_nanos = amount_nanos + $a, expires_at = $e WHERE id = $id;");
                Bind(grow, ("$a", grant), ("$e", SqliteLedgerSchema.ToStoredTimestamp(expiresAt)), ("$id", leaseId));
                grow.ExecuteNonQuery();
            }
            else
            {
                using var insert = Command(connection, transaction, "INSERT INTO budget_reservations (id, request_id, amount_nanos, created_at, expires_at, instance_id, lease_ttl) VALUES ($id, $r, $a, $c, $e, $r, $ttl);");
                Bind(insert, ("$id", leaseId), ("$r", instanceId), ("$a", grant), ("$c", SqliteLedgerSchema.ToStoredTimestamp(at)), ("$e", SqliteLedgerSchema.ToStoredTimestamp(expiresAt)), ("$ttl", Math.Max(0, (expiresAt - at).Ticks)));
                insert.ExecuteNonQuery();
                using var insertItem = Command(connection, transaction, "INSERT INTO budget_reservation_items (reservation_id, scope, period, period_start, cap_nanos) VALUES ($id, $s, $p, $ps, $cap);");
                foreach (var (scope, period, start, cap) in items)
                {
                    Bind(insertItem, ("$id", leaseId), ("$s", scope), ("$p", period), ("$ps", start), ("$cap", cap));
                    insertItem.ExecuteNonQuery();
                }
            }

            transaction.Commit();
            BudgetLeaseIds.InUse = true;
            return grant;
        }
        catch (Exception exception) when (StoreFaults.ShouldWrap(exception))
        {
            throw StoreFaults.Unavailable("budgets.lease", exception);
        }
    }

    /// <inheritdoc />
    public async Task<long?> ShrinkLeaseAsync(string leaseId, long nanos, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        ArgumentException.ThrowIfNullOrEmpty(leaseId);
        try
        {
            await EnsureMigratedAsync(cancellationToken);
            using var lease = await _gate.EnterAsync(cancellationToken);
            var connection = lease.Connection;
            using var transaction = connection.BeginTransaction(deferred: false);
            if (!TryReadLease(connection, transaction, leaseId, out var amount, out var spent, out var closed) || closed)
            {
                return null;
            }

            var back = Math.Max(0, Math.Min(nanos, amount - spent));
            ApplyToItems(connection, transaction, leaseId, release: back, charge: 0);
            using var update = Command(connection, transaction, "UPDATE budget_reservations SET amount_nanos = amount_nanos - $a, expires_at = $e WHERE id = $id;");
            Bind(update, ("$a", back), ("$e", SqliteLedgerSchema.ToStoredTimestamp(expiresAt)), ("$id", leaseId));
            update.ExecuteNonQuery();
            transaction.Commit();
            return spent;
        }
        catch (Exception exception) when (StoreFaults.ShouldWrap(exception))
        {
            throw StoreFaults.Unavailable("budgets.lease", exception);
        }
    }

    /// <inheritdoc />
    public async Task CloseLeasesAsync(IReadOnlyList<string> leaseIds, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        ArgumentNullException.ThrowIfNull(leaseIds);
        // Stryker disable once Block,Statement : equivalent (docs/testing.md, budgets-sqlite): an empty list makes an empty transaction
        if (leaseIds.Count == 0)
        {
            return;
        }

        try
        {
            await EnsureMigratedAsync(cancellationToken);
            using var lease = await _gate.EnterAsync(cancellationToken);
            var connection = lease.Connection;
            using var transaction = connection.BeginTransaction(deferred: false);
            foreach (var leaseId in leaseIds)
            {
                if (TryReadLease(connection, transaction, leaseId, out var amount, out var spent, out var closed) && !closed)
                {
                    ApplyToItems(connection, transaction, leaseId, release: amount, charge: spent);
                    using var mark = Command(connection, transaction, "UPDATE budget_reservations SET reclaimed_at = $now, reclaimed_nanos = $c WHERE id = $id;");
                    Bind(mark, ("$now", SqliteLedgerSchema.ToStoredTimestamp(at)), ("$c", spent), ("$id", leaseId));
                    mark.ExecuteNonQuery();
                }
            }

            transaction.Commit();
        }
        catch (Exception exception) when (StoreFaults.ShouldWrap(exception))
        {
            throw StoreFaults.Unavailable("budgets.lease", exception);
        }
    }

    /// <summary>
    /// In the ledger's batch transaction, before the records' intents are deleted: charges each record journaled against a
    /// lease (its intent's reservation id: from <c>reservationOf</c>, the intent files' pending intents, else the intents
    /// table) its recorded cost, so budget and ledger agree by construction (issue 29). Does nothing in a process that
    /// never took a lease.
    /// </summary>
    /// <returns>
    /// The overrun of each record charged beyond what its key could be charged (<see cref="BudgetOverrunRule"/>, with no
    /// slack: a lease does not know its requests' holds), by record id, to be stored on its row; null when none.
    /// </returns>
    internal static Dictionary<string, long>? ChargeLeasedRecords(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<LedgerRecord> records, Func<string, string?>? reservationOf = null)
    {
        // Stryker disable once Logical : equivalent (docs/testing.md, budgets-sqlite): an empty batch charges nothing either way, and a process that never took a lease finds no lease intents (lookups only)
        if (!BudgetLeaseIds.InUse || records.Count == 0)
        {
            return null;
        }

        // The lease of each record: from the intent files' pending intents (reservationOf) where they know it, else from
        // the intents table in one statement for the rest of the batch (SqliteBudgetStore.LeaseCharges.cs).
        Dictionary<string, string>? leaseOf = null;
        var rest = records;
        if (reservationOf is not null)
        {
            List<LedgerRecord>? unresolved = null;
            foreach (var record in records)
            {
                if (reservationOf(record.Id) is { } journaled && BudgetLeaseIds.IsLease(journaled))
                {
                    (leaseOf ??= new(StringComparer.Ordinal))[record.Id] = journaled;
                }
                else
                {
                    (unresolved ??= []).Add(record);
                }
            }

            rest = unresolved ?? (IReadOnlyList<LedgerRecord>)[];
        }

        // Stryker disable once Equality : equivalent (docs/testing.md, budgets-sqlite): an empty lookup finds nothing
        if (rest.Count > 0 && ReadLeaseIntents(connection, transaction, rest) is { } fromTable)
        {
            leaseOf ??= new(StringComparer.Ordinal);
            foreach (var (recordId, leaseId) in fromTable)
            {
                leaseOf[recordId] = leaseId;
            }
        }

        return leaseOf is null ? null : ChargeGrouped(connection, transaction, records, leaseOf);
    }

    private static bool TryReadLease(SqliteConnection connection, SqliteTransaction transaction, string leaseId, out long amount, out long spent, out bool closed) =>
        TryReadLease(connection, transaction, leaseId, out amount, out spent, out closed, out _);

    /// <summary>Reads a lease row; <c>tail</c>: what a reclaimed lease still holds for its late records (0 while open, and once released).</summary>
    private static bool TryReadLease(SqliteConnection connection, SqliteTransaction transaction, string leaseId, out long amount, out long spent, out bool closed, out long tail)
    {
        using var read = Command(connection, transaction, "SELECT amount_nanos, lease_spent_nanos, reclaimed_at, tail_nanos FROM budget_reservations WHERE id = $id;");
        read.Parameters.AddWithValue("$id", leaseId);
        using var reader = read.ExecuteReader();
        if (!reader.Read())
        {
            amount = spent = tail = 0;
            closed = false;
            return false;
        }

        amount = reader.GetInt64(0);
        spent = reader.GetInt64(1);
        closed = !reader.IsDBNull(2);
        tail = reader.GetInt64(3);
        return true;
    }

    /// <summary>The limits' counters, each once (<see cref="BudgetCounterHold.Distinct"/>: scope, period code, stored period start, cap in nano-dollars).</summary>
    private static List<(string Scope, string Period, long Start, long Cap)> DistinctCounters(IReadOnlyList<BudgetLimit> limits, DateTimeOffset at) =>
        BudgetCounterHold.Distinct(limits, at).ConvertAll(counter => (counter.Scope, counter.Period, counter.Start, counter.Cap));
}
