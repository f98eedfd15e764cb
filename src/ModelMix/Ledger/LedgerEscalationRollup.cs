using System.Data.Common;
using System.Globalization;

namespace ModelMix.Ledger;

/// <summary>
/// The escalated-request count kept by the ledger writer (docs/ledger.md, "Rollups"), so the audit's count of requests with
/// at least one escalation attempt (<c>COUNT(DISTINCT request_id)</c> over the rows with <c>escalated_from</c> set and
/// <c>attempt &lt;&gt; 0</c>) reads no raw rows but those of the partial hours at the ends of its range.
/// </summary>
/// <remarks>
/// <para>
/// The exact rule. A request's escalation attempts may fall in several hours (and reach the writer in several batches, in
/// any order), so a per-hour count alone would count such a request once per hour. The writer therefore keeps:
/// </para>
/// <list type="bullet">
/// <item><see cref="HoursTable"/>: per UTC hour h, N(h) = the number of distinct requests with an escalation attempt in h.
/// For each request a batch inserted escalation rows of, the writer reads the hours of that request's escalation rows
/// stored before the batch (an index lookup on <c>request_id</c>) and adds 1 to each hour of the batch's rows not among
/// them. N(h) only grows, so the order in which a request's rows arrive does not matter.</item>
/// <item><see cref="SpansTable"/>: for every request whose escalation rows fall in two hours or more, one row per such
/// hour (<c>ON CONFLICT DO NOTHING</c>). Rare: only requests whose attempts straddle an hour boundary.</item>
/// </list>
/// <para>
/// The count over [from, to), with H1 the first whole hour and H2 the end of the last (<see cref="Plan"/>):
/// Σ N(h) over [H1, H2), minus, per request of the spans table, its hours in [H1, H2) less one (it was counted once per
/// hour), plus the distinct requests of the raw rows of the partial hours [from, H1) and [H2, to) that have no escalation
/// hour in [H1, H2) (those that have one are multi-hour, so in the spans table, and already counted). One statement reads
/// the three parts, so they come from one snapshot. A range with no whole hour counts its raw rows, as before.
/// </para>
/// <para>
/// Repricing and corrections never change a row's request, attempt, escalation or time, so they leave both tables alone.
/// Retention keeps both (as the rollups): the count over a pruned hour stays what its raw rows said. A request whose
/// escalations were pruned from one hour and written again to another is not seen as spanning them.
/// </para>
/// </remarks>
internal static class LedgerEscalationRollup
{
    /// <summary>Distinct escalated requests per hour.</summary>
    public const string HoursTable = "ledger_escalation_hours";

    /// <summary>The hours of the requests whose escalation attempts fall in more than one hour.</summary>
    public const string SpansTable = "ledger_escalation_spans";

    /// <summary>The condition of an escalation row (the raw count's, and the covering partial index's).</summary>
    public const string EscalationCondition = "escalated_from IS NOT NULL AND attempt <> 0";

    /// <summary>Whether <paramref name="record"/> is an escalation attempt (<see cref="EscalationCondition"/>).</summary>
    public static bool IsEscalation(LedgerRecord record) => record.EscalatedFrom is not null && record.Attempt != 0;

    /// <summary>The hour (stored ticks) of a raw row's <c>timestamp</c>, as the rollups compute it.</summary>
    private static string HourOf(string timestamp) =>
        $"({timestamp} - ({timestamp} % {LedgerRollupSql.HourTicks.ToString(CultureInfo.InvariantCulture)}))";

    /// <summary>The migration step (SQLite 14, PostgreSQL 14): both tables, filled from every raw row still stored.</summary>
    public static string Migration(LedgerSqlDialect d)
    {
        ArgumentNullException.ThrowIfNull(d);
        var pairs = $"SELECT DISTINCT {HourOf("timestamp")} AS hour, request_id FROM ledger_records WHERE {EscalationCondition}";
        return $"CREATE TABLE {HoursTable} (\n    hour {d.Integer} NOT NULL PRIMARY KEY,\n    requests {d.Integer} NOT NULL\n){d.TableSuffix};\n" +
            $"CREATE TABLE {SpansTable} (\n    hour {d.Integer} NOT NULL,\n    request_id {d.Text} NOT NULL,\n    PRIMARY KEY (hour, request_id)\n){d.TableSuffix};\n" +
            $"INSERT INTO {HoursTable} (hour, requests) SELECT hour, COUNT(*) FROM ({pairs}) e GROUP BY hour;\n" +
            $"INSERT INTO {SpansTable} (hour, request_id) SELECT hour, request_id FROM ({pairs}) e " +
            $"WHERE request_id IN (SELECT request_id FROM ({pairs}) m GROUP BY request_id HAVING COUNT(*) > 1);\n";
    }

    /// <summary>
    /// PostgreSQL: the transaction-level advisory locks on the escalated requests of the batch in <c>ledger_batch</c>, taken in
    /// one order before the move, so two replicas writing escalation rows of one request at once (a reconciled intent, a
    /// replay) serialise, and each sees the other's rows in its lookup. Key space (two int4 keys) apart from the single-key locks.
    /// </summary>
    public const string PostgresLockSql =
        "SELECT pg_advisory_xact_lock(1296914501, k) FROM (SELECT DISTINCT hashtext(request_id) AS k FROM ledger_batch " +
        "WHERE escalated_from IS NOT NULL AND attempt <> 0 ORDER BY k) s;";

    /// <summary>
    /// PostgreSQL: the data-modifying <c>WITH</c> parts (comma-led) that add the escalation rows of <paramref name="inserted"/>
    /// (the rows the move inserted) to both tables. The lookup of <c>ledger_records</c> does not see the rows this statement
    /// inserts (one snapshot for all parts), so it reads exactly the rows stored before the batch.
    /// </summary>
    public static string PostgresWithParts(string inserted) =>
        $",\nesc AS (SELECT DISTINCT request_id, {HourOf("timestamp")} AS hour FROM {inserted} WHERE {EscalationCondition}),\n" +
        $"esc_prior AS (SELECT DISTINCT r.request_id, {HourOf("r.timestamp")} AS hour FROM ledger_records r " +
        $"WHERE r.request_id IN (SELECT request_id FROM esc) AND r.escalated_from IS NOT NULL AND r.attempt <> 0),\n" +
        $"esc_all AS (SELECT request_id, hour FROM esc UNION SELECT request_id, hour FROM esc_prior),\n" +
        $"esc_hours AS (INSERT INTO {HoursTable} (hour, requests) SELECT hour, COUNT(*) FROM esc e " +
        "WHERE NOT EXISTS (SELECT 1 FROM esc_prior p WHERE p.request_id = e.request_id AND p.hour = e.hour) GROUP BY hour " +
        $"ON CONFLICT (hour) DO UPDATE SET requests = {HoursTable}.requests + excluded.requests),\n" +
        $"esc_spans AS (INSERT INTO {SpansTable} (hour, request_id) SELECT hour, request_id FROM esc_all " +
        "WHERE request_id IN (SELECT request_id FROM esc_all GROUP BY request_id HAVING COUNT(*) > 1) ON CONFLICT DO NOTHING)";

    /// <summary>SQLite's writer: the hours of a request's escalation rows stored before the batch (<c>?2</c>: its first <c>seq</c>).</summary>
    public static readonly string SqlitePriorHoursSql =
        $"SELECT DISTINCT {HourOf("timestamp")} FROM ledger_records WHERE request_id = ?1 AND {EscalationCondition} AND seq < ?2;";

    /// <summary>SQLite's writer: adds <c>?2</c> requests to the hour <c>?1</c>.</summary>
    public static readonly string SqliteAddHourSql =
        $"INSERT INTO {HoursTable} (hour, requests) VALUES (?1, ?2) ON CONFLICT (hour) DO UPDATE SET requests = requests + excluded.requests;";

    /// <summary>SQLite's writer: records the hour <c>?1</c> of the multi-hour request <c>?2</c>.</summary>
    public static readonly string SqliteAddSpanSql = $"INSERT INTO {SpansTable} (hour, request_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING;";

    /// <summary>The whole hours [H1, H2) of a range and how to count it.</summary>
    /// <param name="WholeFrom">H1: the first whole hour (stored ticks), or null for an open start.</param>
    /// <param name="WholeTo">H2: the end of the last whole hour, or null for an open end.</param>
    /// <param name="RawOnly">The range has no whole hour: count its raw rows.</param>
    internal readonly record struct CountPlan(long? WholeFrom, long? WholeTo, bool RawOnly);

    /// <summary>The plan for [<paramref name="from"/>, <paramref name="to"/>).</summary>
    public static CountPlan Plan(DateTimeOffset? from, DateTimeOffset? to)
    {
        long? h1 = from is { } f ? LedgerRollupReader.CeilingHour(f) : null;
        long? h2 = to is { } t ? LedgerRollupReader.FloorHour(t) : null;
        return new CountPlan(h1, h2, h1 is { } a && h2 is { } b && a >= b);
    }

    /// <summary>
    /// The statement reading the three parts of a count (<see cref="Combine"/>): rows (kind, hour or sum, request id) — kind 0
    /// the sum of N(h) over [H1, H2), kind 1 the span rows of the hours touching the range, kind 2 the escalated requests of
    /// the raw rows of each partial hour. Parameters (with <paramref name="prefix"/>): from, to (raw ticks), h1, h2, fh, th
    /// (hours), each only when that end is bounded (<see cref="AddParameters"/>).
    /// </summary>
    public static string CountSql(char prefix, CountPlan plan, bool from, bool to, LedgerSqlDialect d)
    {
        ArgumentNullException.ThrowIfNull(d);
        var whole = (plan.WholeFrom is null ? string.Empty : $" AND hour >= {prefix}h1") + (plan.WholeTo is null ? string.Empty : $" AND hour < {prefix}h2");
        var touching = (from ? $" AND hour >= {prefix}fh" : string.Empty) + (to ? $" AND hour < {prefix}th" : string.Empty);
        var sql = $"SELECT 0, {d.IntegerSum("requests")}, CAST(NULL AS {d.Text}) FROM {HoursTable} WHERE true{whole}\n" +
            $"UNION ALL SELECT 1, hour, request_id FROM {SpansTable} WHERE true{touching}";
        if (from)
        {
            sql += $"\nUNION ALL SELECT DISTINCT 2, 0, request_id FROM ledger_records WHERE {EscalationCondition} AND timestamp >= {prefix}from AND timestamp < {prefix}h1";
        }

        if (to)
        {
            sql += $"\nUNION ALL SELECT DISTINCT 2, 0, request_id FROM ledger_records WHERE {EscalationCondition} AND timestamp >= {prefix}h2 AND timestamp < {prefix}to";
        }

        return sql + ";";
    }

    /// <summary>The parameters of <see cref="CountSql"/>, by name without prefix, for <paramref name="add"/>.</summary>
    public static void AddParameters(DateTimeOffset? from, DateTimeOffset? to, CountPlan plan, Action<string, long> add)
    {
        ArgumentNullException.ThrowIfNull(add);
        if (from is { } f)
        {
            add("from", SqliteLedgerSchema.ToStoredTimestamp(f));
            add("h1", plan.WholeFrom!.Value);
            add("fh", LedgerRollupReader.FloorHour(f));
        }

        if (to is { } t)
        {
            add("to", SqliteLedgerSchema.ToStoredTimestamp(t));
            add("h2", plan.WholeTo!.Value);
            add("th", LedgerRollupReader.CeilingHour(t));
        }
    }

    /// <summary>
    /// Counts the escalated requests of [<paramref name="from"/>, <paramref name="to"/>) with <paramref name="command"/> (a
    /// fresh command on a reader connection of either store): the rule above, or the raw rows' count for a range with no whole hour.
    /// </summary>
    public static async Task<long> CountAsync(
        DbCommand command, char prefix, LedgerSqlDialect d, DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        var plan = Plan(from, to);
        void Add(string name, long value)
        {
            var p = command.CreateParameter();
            p.ParameterName = prefix == '$' ? "$" + name : name;
            p.Value = value;
            command.Parameters.Add(p);
        }

        if (plan.RawOnly)
        {
            command.CommandText = LedgerRollupReader.EscalatedRequestsSql(prefix, from is not null, to is not null);
            Add("from", SqliteLedgerSchema.ToStoredTimestamp(from!.Value));
            Add("to", SqliteLedgerSchema.ToStoredTimestamp(to!.Value));
            return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        }

        command.CommandText = CountSql(prefix, plan, from is not null, to is not null, d);
        AddParameters(from, to, plan, Add);
        var rows = new List<(int, long, string?)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add((reader.GetInt32(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
            }
        }

        return Combine(plan, rows);
    }

    /// <summary>Adds up the rows of <see cref="CountSql"/> (kind, number, request id) as the rule above says.</summary>
    public static long Combine(CountPlan plan, IEnumerable<(int Kind, long Number, string? RequestId)> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var sum = 0L;
        var spanHours = new Dictionary<string, int>(StringComparer.Ordinal); // a multi-hour request's hours in [H1, H2)
        var partial = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (kind, number, requestId) in rows)
        {
            switch (kind)
            {
                case 0:
                    sum += number;
                    break;
                case 1 when (plan.WholeFrom is not { } h1 || number >= h1) && (plan.WholeTo is not { } h2 || number < h2):
                    spanHours[requestId!] = spanHours.GetValueOrDefault(requestId!) + 1;
                    break;
                case 2:
                    partial.Add(requestId!);
                    break;
            }
        }

        foreach (var hours in spanHours.Values)
        {
            sum -= hours - 1; // counted once per hour of the range
        }

        foreach (var request in partial)
        {
            if (!spanHours.ContainsKey(request))
            {
                sum++; // escalated only in the partial hours (within the range)
            }
        }

        return sum;
    }
}
