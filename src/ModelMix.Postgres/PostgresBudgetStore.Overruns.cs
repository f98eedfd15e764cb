using ModelMix.Budgets;
using Npgsql;

namespace ModelMix.Postgres;

/// <summary>Upstream overrun in PostgreSQL (<see cref="BudgetOverrunRule"/>, docs/keys-and-budgets.md "Overshoot").</summary>
public sealed partial class PostgresBudgetStore
{
    /// <summary>
    /// Locks the counters of the reservations <paramref name="ids"/> (in the global order reservations lock them), then
    /// bounds each charge in turn (<see cref="BudgetOverrunRule"/>, slack: the reservation's own hold), against the
    /// counters as the earlier settlements of the batch leave them. <paramref name="charges"/> is lowered in place;
    /// returns each reservation's overrun (charged to no key).
    /// </summary>
    internal static async Task<long[]> BoundChargesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string[] ids, long[] releases, long[] charges, List<long> holds, CancellationToken cancellationToken)
    {
        var counters = new Dictionary<(string Scope, string Period, long Start), (long Spent, long Reserved)>();
        var items = new Dictionary<string, List<((string Scope, string Period, long Start) Key, long? Cap)>>(StringComparer.Ordinal);
        await using (var read = Command(connection, transaction, BoundCountersSql))
        {
            read.Parameters.Add(new NpgsqlParameter { Value = ids });
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var key = (reader.GetString(1), reader.GetString(2), reader.GetInt64(3));
                counters[key] = (reader.GetInt64(5), reader.GetInt64(6));
                var id = reader.GetString(0);
                if (!items.TryGetValue(id, out var list))
                {
                    items[id] = list = [];
                }

                list.Add((key, reader.IsDBNull(4) ? null : reader.GetInt64(4)));
            }
        }

        var overruns = new long[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            var held = items.GetValueOrDefault(ids[i]) ?? [];
            var chargeable = BudgetOverrunRule.Chargeable(releases[i], slack: holds[i], held.Select(item => new BudgetOverrunRule.Counter(counters[item.Key].Spent, counters[item.Key].Reserved, item.Cap)));
            (charges[i], overruns[i]) = BudgetOverrunRule.Split(charges[i], chargeable);
            foreach (var (key, _) in held)
            {
                var (spent, reserved) = counters[key];
                counters[key] = (spent + charges[i], Math.Max(0, reserved - releases[i]));
            }
        }

        return overruns;
    }

    /// <summary>The counters of the reservations <c>$1</c>, locked in the global order, with each item's cap.</summary>
    private const string BoundCountersSql =
        """
        SELECT i.reservation_id, c.scope, c.period, c.period_start, i.cap_nanos, c.spent_nanos, c.reserved_nanos
        FROM budget_counters c JOIN budget_reservation_items i ON i.scope = c.scope AND i.period = c.period AND i.period_start = c.period_start
        WHERE i.reservation_id = ANY($1)
        ORDER BY c.scope COLLATE "C", c.period COLLATE "C", c.period_start
        FOR UPDATE OF c;
        """;

    /// <summary>
    /// Records overruns (<c>$1</c> request ids, <c>$2</c> nano-dollars) on each request's last priced ledger row;
    /// returns the row's routed model and the amount (for <see cref="BudgetOverrunMetrics"/>).
    /// </summary>
    private const string BookOverrunsSql =
        """
        UPDATE ledger_records r SET overrun_usd = COALESCE(r.overrun_usd, 0) + o.nanos * 0.000000001
        FROM (
            SELECT DISTINCT ON (l.request_id) l.id, l.timestamp, s.nanos
            FROM unnest($1::text[], $2::bigint[]) AS s(request_id, nanos) JOIN ledger_records l ON l.request_id = s.request_id
            WHERE l.cost_total IS NOT NULL
            ORDER BY l.request_id, l.seq DESC) o
        WHERE r.id = o.id AND r.timestamp = o.timestamp
        RETURNING r.routed_model, o.nanos;
        """;

    /// <summary>
    /// Records overruns on given ledger rows (<c>$1</c> ids, <c>$2</c> stored timestamps, <c>$3</c> nano-dollars: reconciled
    /// attempts, each on its own row); returns the row's routed model and the amount (for <see cref="BudgetOverrunMetrics"/>).
    /// </summary>
    private const string BookRowOverrunsSql =
        """
        UPDATE ledger_records r SET overrun_usd = COALESCE(r.overrun_usd, 0) + s.nanos * 0.000000001
        FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS s(id, ts, nanos)
        WHERE r.id = s.id AND r.timestamp = s.ts
        RETURNING r.routed_model, s.nanos;
        """;
}
