using System.Globalization;
using System.Text;

namespace ModelMix.Ledger;

/// <summary>
/// The one definition of the ledger's hourly rollups (docs/ledger.md, "Rollups"), as SQL over raw ledger rows, for
/// SQLite and PostgreSQL alike: the grouping, every measure, the table, the writer's upsert and the backfill. The
/// writer runs <see cref="Upsert"/> over the rows a batch actually inserted, in the batch's transaction; a migration runs
/// <see cref="BackfillV1"/> (and later <see cref="EffortSentMigration"/>) over the rows already stored. Both aggregate with the same expressions, so an hour rolled up
/// incrementally equals the same hour rolled up at once.
/// </summary>
/// <remarks>
/// A rollup row is one UTC hour × key × task label × policy × routed model × response model × effort × status ×
/// attempt kind (0 routing call, 1 first attempt, 2 retry or escalation) × escalated-from model × service tier × speed
/// × inference geo × priced × has tokens. A missing text value is stored as the empty string (a key id, task label,
/// policy or model is never empty). Money is summed exactly: numeric in PostgreSQL, decimal text summed as
/// <see cref="decimal"/> in SQLite (an application-defined function the writer registers).
/// </remarks>
internal static partial class LedgerRollupSql
{
    /// <summary>One hour in the ledger's timestamp unit (100 ns ticks).</summary>
    public const long HourTicks = TimeSpan.TicksPerHour;

    /// <summary>The table.</summary>
    public const string Table = "ledger_rollups";

    /// <summary>
    /// Upper bounds (inclusive, ms) of the latency histogram's buckets; one more bucket holds everything slower.
    /// Bucket i counts calls with bound[i-1] &lt; latency ≤ bound[i].
    /// </summary>
    public static readonly long[] LatencyBoundsMs = [100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 120_000];

    /// <summary>
    /// The grouping columns of the first rollup table (SQLite step 7, PostgreSQL step 6), in primary-key order: those
    /// steps build it, and <see cref="EffortSentMigration"/> rebuilds it with <see cref="Dimensions"/>.
    /// </summary>
    public static readonly string[] DimensionsV1 =
    [
        "hour", "key_id", "task_label", "policy", "routed_model", "response_model", "effort", "status",
        "attempt_kind", "escalated_from", "service_tier", "speed", "inference_geo", "priced", "has_tokens",
    ];

    /// <summary>
    /// The grouping columns, in primary-key order: <see cref="DimensionsV1"/> and <c>effort_sent</c> (1 when the calls
    /// sent their <c>effort</c> as <c>output_config.effort</c>, 0 when they sent none and ran at the model's default), so
    /// a row never mixes calls a what-if target must judge with an effort and calls it must judge without one.
    /// </summary>
    public static readonly string[] Dimensions = [.. DimensionsV1, "effort_sent"];

    /// <summary>Integer measures summed on upsert.</summary>
    public static readonly string[] IntegerSums =
    [
        "calls", "effort_default_calls", "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
        "cache_read_tokens", "web_search_requests", "web_fetch_requests", "cache_read_calls", "thinking_blocks_dropped",
        "thinking_dropped_calls", "disconnected_calls", "estimated_calls", "streaming_calls", "latency_ms_sum",
        .. LatencyBucketColumns(),
    ];

    /// <summary>Exact money measures summed on upsert.</summary>
    public static readonly string[] MoneySums =
    [
        "cost_input", "cost_output", "cost_cache_write_5m", "cost_cache_write_1h", "cost_cache_read", "cost_server_tools",
        "cost_total", "thinking_dropped_cost", "disconnected_cost",
    ];

    /// <summary>Measures kept as a minimum on upsert.</summary>
    public static readonly string[] Minimums = ["first_timestamp", "min_prompt_tokens"];

    /// <summary>Measures kept as a maximum on upsert.</summary>
    public static readonly string[] Maximums = ["last_timestamp", "max_prompt_tokens", "max_output_tokens"];

    /// <summary>
    /// The part of the calls' cost charged to no key (<c>overrun_usd</c>, ledger step 11; docs/keys-and-budgets.md,
    /// "Overshoot"), summed exactly; added to the rollups by the step after it (<see cref="OverrunAndDailyMigration"/>).
    /// </summary>
    public const string OverrunColumn = "overrun_usd";

    /// <summary>Every column in table order (the hourly and the daily table alike).</summary>
    public static readonly string[] Columns = [.. Dimensions, .. Measures(), OverrunColumn];

    /// <summary>Every column of the rollup table from step 9 (<see cref="Dimensions"/>, no overrun) until the overrun step.</summary>
    public static readonly string[] ColumnsV9 = [.. Dimensions, .. Measures()];

    /// <summary>Every column of the first rollup table (<see cref="DimensionsV1"/>), in its order.</summary>
    public static readonly string[] ColumnsV1 = [.. DimensionsV1, .. Measures()];

    private static IEnumerable<string> Measures() => [.. IntegerSums, .. MoneySums, .. Minimums, .. Maximums];

    private const string Prompt = "(input_tokens + cache_write_5m_tokens + cache_write_1h_tokens + cache_read_tokens)";

    /// <summary>The latency bucket columns: <c>latency_le_100</c> … <c>latency_le_120000</c>, <c>latency_over</c>.</summary>
    public static IEnumerable<string> LatencyBucketColumns() =>
        LatencyBoundsMs.Select(b => "latency_le_" + b.ToString(CultureInfo.InvariantCulture)).Append("latency_over");

    /// <summary>The bucket of a latency: the index of the first bound it does not exceed, or the last bucket.</summary>
    public static int LatencyBucket(long latencyMs)
    {
        for (var i = 0; i < LatencyBoundsMs.Length; i++)
        {
            if (latencyMs <= LatencyBoundsMs[i])
            {
                return i;
            }
        }

        return LatencyBoundsMs.Length;
    }

    /// <summary><c>CREATE TABLE</c> of the current rollup table (<see cref="Dimensions"/>) for the dialect.</summary>
    public static string CreateTable(LedgerSqlDialect d) => CreateTable(d, Table, Dimensions, overrun: true);

    /// <summary><c>CREATE TABLE</c> of the first rollup table (<see cref="DimensionsV1"/>): SQLite step 7, PostgreSQL step 6.</summary>
    public static string CreateTableV1(LedgerSqlDialect d) => CreateTable(d, Table, DimensionsV1, overrun: false);

    private static string CreateTable(LedgerSqlDialect d, string table, string[] dimensions, bool overrun)
    {
        var text = d.Text;
        var integer = d.Integer;
        var money = d.Money;
        var sb = new StringBuilder();
        sb.Append("CREATE TABLE ").Append(table).Append(" (\n");
        sb.Append("    hour ").Append(integer).Append(" NOT NULL,\n");
        foreach (var dim in dimensions.Skip(1))
        {
            var type = dim is "attempt_kind" or "priced" or "has_tokens" or "effort_sent" ? integer : text;
            sb.Append("    ").Append(dim).Append(' ').Append(type).Append(" NOT NULL,\n");
        }

        foreach (var column in IntegerSums)
        {
            sb.Append("    ").Append(column).Append(' ').Append(integer).Append(" NOT NULL,\n");
        }

        foreach (var column in MoneySums)
        {
            sb.Append("    ").Append(column).Append(' ').Append(money).Append(" NOT NULL,\n");
        }

        foreach (var column in Minimums.Concat(Maximums))
        {
            sb.Append("    ").Append(column).Append(' ').Append(integer).Append(" NOT NULL,\n");
        }

        if (overrun)
        {
            sb.Append("    ").Append(OverrunColumn).Append(' ').Append(money).Append(" NOT NULL,\n");
        }

        sb.Append("    PRIMARY KEY (").Append(string.Join(", ", dimensions)).Append(")\n)");
        sb.Append(d.TableSuffix).Append(";\n");
        return sb.ToString();
    }

    /// <summary>
    /// <c>SELECT</c> of rollup rows, in <see cref="Columns"/> order, aggregated from <paramref name="source"/> (raw
    /// ledger rows: the table, or a set of just-inserted rows) restricted by <paramref name="where"/>.
    /// </summary>
    public static string Select(LedgerSqlDialect d, string source, string where) => Select(d, source, where, v1: false);

    private static string Flag(string condition) => $"CASE WHEN {condition} THEN 1 ELSE 0 END";

    /// <summary>
    /// The grouping expressions over a raw row, in <see cref="Dimensions"/> order (<see cref="DimensionsV1"/> when
    /// <paramref name="v1"/>); the first is the row's hour, or its UTC day when <paramref name="daily"/>.
    /// </summary>
    private static List<string> DimensionExpressions(LedgerSqlDialect d, bool v1, bool daily)
    {
        var dims = new List<string>
        {
            daily ? DayOfTimestamp : HourOfTimestamp,
            "COALESCE(key_id, '')", "COALESCE(task_label, '')", "COALESCE(policy, '')", "routed_model",
            "COALESCE(response_model, '')", "COALESCE(effort, '')", "status",
            "CASE WHEN attempt = 0 THEN 0 WHEN attempt = 1 THEN 1 ELSE 2 END",
            "COALESCE(escalated_from, '')", "service_tier", "speed", "COALESCE(inference_geo, '')",
            Flag("cost_total IS NOT NULL"),
            Flag($"output_tokens <> 0 OR {Prompt} <> 0"),
        };
        if (!v1)
        {
            dims.Add(Flag(EffortSentCondition(d))); // effort_sent
        }

        return dims;
    }

    private static string Select(LedgerSqlDialect d, string source, string where, bool v1, bool overrun = false, bool daily = false)
    {
        string Int(string expression) => d.IntegerSum(expression);
        var dims = DimensionExpressions(d, v1, daily);

        var measures = new List<string>
        {
            "COUNT(*)",
            Int(Flag(d.IsTrue("effort_is_default"))),
            Int("input_tokens"), Int("output_tokens"), Int("cache_write_5m_tokens"), Int("cache_write_1h_tokens"),
            Int("cache_read_tokens"), Int("web_search_requests"), Int("web_fetch_requests"),
            Int(Flag("cache_read_tokens > 0")),
            Int("thinking_blocks_dropped"),
            Int(Flag("thinking_blocks_dropped > 0")),
            Int(Flag(d.IsTrue("client_disconnected"))),
            Int(Flag(d.IsTrue("usage_estimated"))),
            Int(Flag(d.IsTrue("streaming"))),
            Int("latency_ms"),
        };
        long low = long.MinValue;
        foreach (var bound in LatencyBoundsMs)
        {
            var b = bound.ToString(CultureInfo.InvariantCulture);
            measures.Add(Int(Flag(low == long.MinValue ? $"latency_ms <= {b}" : $"latency_ms > {low.ToString(CultureInfo.InvariantCulture)} AND latency_ms <= {b}")));
            low = bound;
        }

        measures.Add(Int(Flag($"latency_ms > {low.ToString(CultureInfo.InvariantCulture)}")));
        measures.Add(d.MoneySum("cost_input"));
        measures.Add(d.MoneySum("cost_output"));
        measures.Add(d.MoneySum("cost_cache_write_5m"));
        measures.Add(d.MoneySum("cost_cache_write_1h"));
        measures.Add(d.MoneySum("cost_cache_read"));
        measures.Add(d.MoneySum("cost_server_tools"));
        measures.Add(d.MoneySum("cost_total"));
        measures.Add(d.MoneySum("CASE WHEN thinking_blocks_dropped > 0 THEN cost_total END"));
        measures.Add(d.MoneySum($"CASE WHEN {d.IsTrue("client_disconnected")} THEN cost_total END"));
        measures.Add("MIN(timestamp)");
        measures.Add($"MIN({Prompt})");
        measures.Add("MAX(timestamp)");
        measures.Add($"MAX({Prompt})");
        measures.Add("MAX(output_tokens)");
        if (overrun)
        {
            measures.Add(d.MoneySum(OverrunColumn));
        }

        var groupBy = string.Join(", ", Enumerable.Range(1, dims.Count).Select(i => i.ToString(CultureInfo.InvariantCulture)));
        return $"SELECT {string.Join(", ", dims.Concat(measures))} FROM {source} WHERE {where} GROUP BY {groupBy}";
    }

    /// <summary>
    /// Adds the aggregate of <paramref name="source"/> rows matching <paramref name="where"/> to the hourly rollups, or
    /// to the daily ones (<see cref="DailyTable"/>) when <paramref name="daily"/>; without the final semicolon when not
    /// <paramref name="terminated"/> (a PostgreSQL data-modifying <c>WITH</c> part).
    /// </summary>
    public static string Upsert(LedgerSqlDialect d, string source, string where, bool daily = false, bool terminated = true)
    {
        var table = daily ? DailyTable : Table;
        return $"INSERT INTO {table} ({string.Join(", ", Columns)})\n{Select(d, source, where, v1: false, overrun: true, daily: daily)}\n" +
            OnConflictAdd(d, table) + (terminated ? ";" : string.Empty);
    }

    /// <summary>
    /// Adds one rollup row given as the parameters <c>?1</c>…<c>?N</c> (<see cref="Columns"/> order) to the hourly
    /// rollups, or the daily ones when <paramref name="daily"/>: the SQLite writer's statement for the rows it summed in
    /// memory (<see cref="LedgerRollupBatch"/>), merged exactly as <see cref="Upsert"/> merges.
    /// </summary>
    public static string UpsertRow(LedgerSqlDialect d, bool daily)
    {
        var table = daily ? DailyTable : Table;
        var values = string.Join(", ", Columns.Select((_, i) => "?" + (i + 1).ToString(CultureInfo.InvariantCulture)));
        return $"INSERT INTO {table} ({string.Join(", ", Columns)}) VALUES ({values})\n" + OnConflictAdd(d, table) + ";";
    }

    /// <summary>The conflict clause that merges a new rollup row into a stored one: sums added, minimums and maximums kept.</summary>
    private static string OnConflictAdd(LedgerSqlDialect d, string table)
    {
        var sets = new List<string>();
        sets.AddRange(IntegerSums.Select(c => $"{c} = {table}.{c} + excluded.{c}"));
        sets.AddRange(MoneySums.Append(OverrunColumn).Select(c => $"{c} = {d.MoneyAdd($"{table}.{c}", $"excluded.{c}")}"));
        sets.AddRange(Minimums.Select(c => $"{c} = {d.Least($"{table}.{c}", $"excluded.{c}")}"));
        sets.AddRange(Maximums.Select(c => $"{c} = {d.Greatest($"{table}.{c}", $"excluded.{c}")}"));
        return $"ON CONFLICT ({string.Join(", ", Dimensions)}) DO UPDATE SET {string.Join(", ", sets)}";
    }

    /// <summary>A partial index on the raw rows of escalations: the audit counts escalated requests from it.</summary>
    public const string EscalationIndex =
        "CREATE INDEX ix_ledger_records_escalated ON ledger_records (timestamp) WHERE escalated_from IS NOT NULL;\n";

    /// <summary>The first rollup table's backfill (<see cref="DimensionsV1"/>) from every stored raw row: SQLite step 7, PostgreSQL step 6.</summary>
    public static string BackfillV1(LedgerSqlDialect d) =>
        $"INSERT INTO {Table} ({string.Join(", ", ColumnsV1)})\n{Select(d, "ledger_records", "true", v1: true)};\n";

    /// <summary>The hour (stored ticks) of a raw row's <c>timestamp</c>.</summary>
    private static readonly string HourOfTimestamp = $"(timestamp - (timestamp % {HourTicks.ToString(CultureInfo.InvariantCulture)}))";

    /// <summary>Whether a raw row's call sent its effort (<see cref="Evaluation.WhatIfRepricing.SentEffort"/>: named, and not the default).</summary>
    private static string EffortSentCondition(LedgerSqlDialect d) => $"COALESCE(effort, '') <> '' AND NOT ({d.IsTrue("effort_is_default")})";

    /// <summary>
    /// The migration step that adds the <c>effort_sent</c> dimension (SQLite step 9, PostgreSQL step 9): a new table with
    /// <see cref="Dimensions"/>, filled from the raw rows of every hour whose raw rows are all still stored (its rollups'
    /// calls equal its raw rows), and for an hour whose raw rows were pruned (retention) from its old rollup rows, which
    /// cannot be split: such a row is marked as sent when some of its calls sent the effort, and keeps its count of calls
    /// that did not (<see cref="LedgerRollup.EffortDefaultCalls"/>), which the audit reads. The old table is then replaced.
    /// </summary>
    public static string EffortSentMigration(LedgerSqlDialect d)
    {
        const string next = Table + "_next";
        const string pruned = "modelmix_pruned_hours";
        var copied = string.Join(", ", DimensionsV1.Append("CASE WHEN effort <> '' AND effort_default_calls < calls THEN 1 ELSE 0 END").Concat(Measures()));
        return CreateTable(d, next, Dimensions, overrun: false) +
            $"CREATE TEMPORARY TABLE {pruned} AS SELECT r.hour AS hour FROM " +
            $"(SELECT hour, SUM(calls) AS calls FROM {Table} GROUP BY hour) r LEFT JOIN " +
            $"(SELECT {HourOfTimestamp} AS hour, COUNT(*) AS n FROM ledger_records GROUP BY 1) w ON w.hour = r.hour " +
            "WHERE w.n IS NULL OR w.n <> r.calls;\n" +
            $"INSERT INTO {next} ({string.Join(", ", ColumnsV9)})\n" +
            $"{Select(d, "ledger_records", $"{HourOfTimestamp} NOT IN (SELECT hour FROM {pruned})")};\n" +
            $"INSERT INTO {next} ({string.Join(", ", ColumnsV9)}) SELECT {copied} FROM {Table} WHERE hour IN (SELECT hour FROM {pruned});\n" +
            $"DROP TABLE {pruned};\n" +
            $"DROP TABLE {Table};\n" +
            $"ALTER TABLE {next} RENAME TO {Table};\n" +
            d.RenamePrimaryKey(next, Table);
    }
}

/// <summary>The few places SQLite and PostgreSQL differ in the rollup SQL.</summary>
internal sealed class LedgerSqlDialect
{
    /// <summary>SQLite: money is decimal text, summed by <c>modelmix_decimal_sum</c> / <c>modelmix_decimal_add</c>.</summary>
    public static readonly LedgerSqlDialect Sqlite = new()
    {
        Text = "TEXT",
        Integer = "INTEGER",
        Money = "TEXT",
        TableSuffix = " STRICT, WITHOUT ROWID",
        IntegerSum = e => $"COALESCE(SUM({e}), 0)",
        MoneySum = e => $"modelmix_decimal_sum({e})",
        MoneyAdd = (a, b) => $"modelmix_decimal_add({a}, {b})",
        Least = (a, b) => $"MIN({a}, {b})",
        Greatest = (a, b) => $"MAX({a}, {b})",
        IsTrue = c => $"{c} <> 0",
        RenamePrimaryKey = (_, _) => string.Empty, // a WITHOUT ROWID table's key has no name
    };

    /// <summary>PostgreSQL: money is numeric, summed natively.</summary>
    public static readonly LedgerSqlDialect Postgres = new()
    {
        Text = "text",
        Integer = "bigint",
        Money = "numeric",
        TableSuffix = string.Empty,
        IntegerSum = e => $"COALESCE(SUM({e}), 0)::bigint",
        MoneySum = e => $"COALESCE(SUM({e}), 0)",
        MoneyAdd = (a, b) => $"{a} + {b}",
        Least = (a, b) => $"LEAST({a}, {b})",
        Greatest = (a, b) => $"GREATEST({a}, {b})",
        IsTrue = c => c,
        RenamePrimaryKey = (from, to) => $"ALTER TABLE {to} RENAME CONSTRAINT {from}_pkey TO {to}_pkey;\n",
    };

    public required string Text { get; init; }
    public required string Integer { get; init; }
    public required string Money { get; init; }
    public required string TableSuffix { get; init; }
    public required Func<string, string> IntegerSum { get; init; }
    public required Func<string, string> MoneySum { get; init; }
    public required Func<string, string, string> MoneyAdd { get; init; }
    public required Func<string, string, string> Least { get; init; }
    public required Func<string, string, string> Greatest { get; init; }
    public required Func<string, string> IsTrue { get; init; }
    public required Func<string, string, string> RenamePrimaryKey { get; init; }
}
