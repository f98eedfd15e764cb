using System.Data.Common;
using ModelMix.Pricing;

namespace ModelMix.Ledger;

/// <summary>Reads rollup rows (<see cref="LedgerRollupSql.Columns"/> order) from either store's data reader.</summary>
internal static class LedgerRollupReader
{
    /// <summary>The <c>SELECT</c> of rollup rows of an hour range; parameters <paramref name="prefix"/>from / to.</summary>
    public static string SelectSql(char prefix, bool from, bool to, bool daily = false)
    {
        var where = new List<string>();
        if (from)
        {
            where.Add($"hour >= {prefix}from");
        }

        if (to)
        {
            where.Add($"hour < {prefix}to");
        }

        return $"SELECT {string.Join(", ", LedgerRollupSql.Columns)} FROM {(daily ? LedgerRollupSql.DailyTable : LedgerRollupSql.Table)}" +
            (where.Count == 0 ? string.Empty : " WHERE " + string.Join(" AND ", where)) + " ORDER BY hour;";
    }

    /// <summary>A time-range condition on raw rows (" AND …", or empty), with parameters <paramref name="prefix"/>from / to.</summary>
    public static string RawRange(char prefix, bool from, bool to) =>
        (from ? $" AND timestamp >= {prefix}from" : string.Empty) + (to ? $" AND timestamp < {prefix}to" : string.Empty);

    /// <summary>The call summaries of a range, earliest first.</summary>
    public static string CallSummariesSql(char prefix, bool from, bool to) =>
        $"SELECT key_id, session_id, timestamp, cost_total, task_label, attempt, escalated_from IS NOT NULL, latency_ms FROM ledger_records WHERE true{RawRange(prefix, from, to)} ORDER BY timestamp, seq;";

    /// <summary>
    /// Each (key, session)'s calls of a range summed: key_id, session_id, first and last timestamp, cost (by
    /// <paramref name="moneySum"/> over <c>cost_total</c>, 0 over none), calls.
    /// </summary>
    public static string SessionSummariesSql(char prefix, bool from, bool to, Func<string, string> moneySum) =>
        $"SELECT key_id, session_id, MIN(timestamp), MAX(timestamp), {moneySum("cost_total")}, COUNT(*) FROM ledger_records " +
        $"WHERE session_id IS NOT NULL{RawRange(prefix, from, to)} GROUP BY key_id, session_id;";

    /// <summary>
    /// Per task ('(none)' for calls without a label, as the raw audit names them), the ⌈0.95·n⌉-th smallest latency of
    /// its n first attempts of a range (⌈0.95·n⌉ = (95·n + 99) / 100 in integer arithmetic, in both databases).
    /// </summary>
    public static string FirstAttemptP95Sql(char prefix, bool from, bool to) =>
        "SELECT task, latency_ms FROM (SELECT COALESCE(task_label, '(none)') AS task, latency_ms, " +
        "ROW_NUMBER() OVER (PARTITION BY COALESCE(task_label, '(none)') ORDER BY latency_ms) AS rn, " +
        "COUNT(*) OVER (PARTITION BY COALESCE(task_label, '(none)')) AS n FROM ledger_records " +
        $"WHERE attempt = 1 AND escalated_from IS NULL AND latency_ms > 0{RawRange(prefix, from, to)}) ranked WHERE rn = (95 * n + 99) / 100;";

    /// <summary>The number of requests with an escalation in a range (a covering partial index serves it: <see cref="LedgerReadIndexes"/>).</summary>
    public static string EscalatedRequestsSql(char prefix, bool from, bool to) =>
        $"SELECT COUNT(DISTINCT request_id) FROM ledger_records WHERE escalated_from IS NOT NULL AND attempt <> 0{RawRange(prefix, from, to)};";

    /// <summary>
    /// The latest records of a range, newest first. The <paramref name="prefix"/>count-th latest timestamp is found first
    /// (a backward walk of the timestamp index, <paramref name="prefix"/>count entries), and only the rows from it on are
    /// sorted by (timestamp, seq): never the whole range, whatever the planner knows of incremental sorts.
    /// </summary>
    public static string LatestSql(char prefix, bool from, bool to)
    {
        var range = RawRange(prefix, from, to);
        return $"SELECT {SqliteLedgerSchema.SelectColumns} FROM ledger_records WHERE true{range} AND timestamp >= COALESCE(" +
            $"(SELECT timestamp FROM ledger_records WHERE true{range} ORDER BY timestamp DESC LIMIT 1 OFFSET {prefix}count - 1), {(long.MinValue + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)}) " +
            $"ORDER BY timestamp DESC, seq DESC LIMIT {prefix}count;";
    }

    /// <summary>The stored hour at or before <paramref name="instant"/>.</summary>
    public static long FloorHour(DateTimeOffset instant) => Floor(instant, LedgerRollupSql.HourTicks);

    /// <summary>The stored hour at or after <paramref name="instant"/>.</summary>
    public static long CeilingHour(DateTimeOffset instant) => Ceiling(instant, LedgerRollupSql.HourTicks);

    /// <summary>The stored UTC midnight at or before <paramref name="instant"/>.</summary>
    public static long FloorDay(DateTimeOffset instant) => Floor(instant, LedgerRollupSql.DayTicks);

    /// <summary>The stored UTC midnight at or after <paramref name="instant"/>.</summary>
    public static long CeilingDay(DateTimeOffset instant) => Ceiling(instant, LedgerRollupSql.DayTicks);

    /// <summary>The stored multiple of <paramref name="unit"/> ticks at or before <paramref name="instant"/>.</summary>
    private static long Floor(DateTimeOffset instant, long unit)
    {
        var ticks = SqliteLedgerSchema.ToStoredTimestamp(instant);
        var rest = ticks % unit;
        return rest < 0 ? ticks - rest - unit : ticks - rest;
    }

    /// <summary>The stored multiple of <paramref name="unit"/> ticks at or after <paramref name="instant"/>.</summary>
    private static long Ceiling(DateTimeOffset instant, long unit)
    {
        var floor = Floor(instant, unit);
        return floor == SqliteLedgerSchema.ToStoredTimestamp(instant) ? floor : floor + unit;
    }

    /// <summary>Reads one row; <paramref name="money"/> reads a money column (decimal text in SQLite, numeric in PostgreSQL).</summary>
    public static LedgerRollup Read(DbDataReader r, Func<DbDataReader, int, decimal> money)
    {
        static string? Text(DbDataReader r, int i) => r.GetString(i) is { Length: > 0 } s ? s : null;
        var i = LedgerRollupSql.Dimensions.Length; // first measure
        long Next() => r.GetInt64(i++);
        var rollup = new LedgerRollup
        {
            Hour = SqliteLedgerSchema.FromStoredTimestamp(r.GetInt64(0)),
            KeyId = Text(r, 1),
            TaskLabel = Text(r, 2),
            Policy = Text(r, 3),
            RoutedModel = r.GetString(4),
            ResponseModel = Text(r, 5),
            Effort = Text(r, 6),
            Status = SqliteLedgerSchema.ParseStatus(r.GetString(7)),
            AttemptKind = (int)r.GetInt64(8),
            EscalatedFrom = Text(r, 9),
            ServiceTier = SqliteLedgerSchema.ParseServiceTier(r.GetString(10)),
            Speed = SqliteLedgerSchema.ParseSpeed(r.GetString(11)),
            InferenceGeo = Text(r, 12),
            Priced = r.GetInt64(13) != 0,
            HasTokens = r.GetInt64(14) != 0,
            EffortSent = r.GetInt64(15) != 0,
        };
        var calls = Next();
        var effortDefault = Next();
        long input = Next(), output = Next(), write5m = Next(), write1h = Next(), read = Next(), searches = Next(), fetches = Next();
        var cacheReadCalls = Next();
        var thinkingBlocks = Next();
        var thinkingCalls = Next();
        var disconnected = Next();
        var estimated = Next();
        var streaming = Next();
        var latencySum = Next();
        var buckets = new long[LedgerRollupSql.LatencyBoundsMs.Length + 1];
        for (var b = 0; b < buckets.Length; b++)
        {
            buckets[b] = Next();
        }

        decimal Money() => money(r, i++);
        var cost = new CostBreakdown(Money(), Money(), Money(), Money(), Money(), Money());
        _ = Money(); // cost_total: the sum of the components above
        var thinkingCost = Money();
        var disconnectedCost = Money();
        var first = Next();
        var minPrompt = Next();
        var last = Next();
        var maxPrompt = Next();
        var maxOutput = Next();
        var overrun = Money();
        return rollup with
        {
            Calls = calls,
            EffortDefaultCalls = effortDefault,
            Usage = new TokenUsage(input, output, write5m, write1h, read, rollup.ServiceTier, rollup.Speed, rollup.InferenceGeo, searches, fetches),
            CacheReadCalls = cacheReadCalls,
            ThinkingBlocksDropped = thinkingBlocks,
            ThinkingDroppedCalls = thinkingCalls,
            ThinkingDroppedCost = thinkingCost,
            DisconnectedCalls = disconnected,
            DisconnectedCost = disconnectedCost,
            EstimatedCalls = estimated,
            StreamingCalls = streaming,
            LatencyMsSum = latencySum,
            LatencyBuckets = buckets,
            Cost = cost,
            FirstTimestamp = SqliteLedgerSchema.FromStoredTimestamp(first),
            LastTimestamp = SqliteLedgerSchema.FromStoredTimestamp(last),
            MinPromptTokens = minPrompt,
            MaxPromptTokens = maxPrompt,
            MaxOutputTokens = maxOutput,
            OverrunUsd = overrun,
        };
    }
}
