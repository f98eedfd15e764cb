using System.Globalization;
using System.Text.RegularExpressions;

namespace ModelMix.Ledger;

/// <summary>
/// The daily rollups and the overrun measure (docs/ledger.md, "Rollups"): <see cref="DailyTable"/> has the hourly
/// table's columns, its <c>hour</c> holding the start of a UTC day; the writer upserts both tables from the rows a batch
/// inserted, and wherever hourly rows are recomputed (repricing, corrections) the days covering them are recomputed from
/// the hourly rows. <c>overrun_usd</c> (ledger step 11) is summed into both; a row's overrun booked after it was
/// inserted (settlement, budget leases) reaches them through a trigger on <c>ledger_records</c>.
/// </summary>
internal static partial class LedgerRollupSql
{
    /// <summary>The daily table: one row per UTC day × the hourly table's dimensions.</summary>
    public const string DailyTable = "ledger_rollups_daily";

    /// <summary>One UTC day in the ledger's timestamp unit (stored timestamps count from the Unix epoch, a midnight).</summary>
    public const long DayTicks = TimeSpan.TicksPerDay;

    private static readonly string Day = DayTicks.ToString(CultureInfo.InvariantCulture);

    /// <summary>The UTC day (stored ticks) of a raw row's <c>timestamp</c>.</summary>
    private static readonly string DayOfTimestamp = $"(timestamp - (timestamp % {Day}))";

    private const string OverrunTrigger = "ledger_records_overrun_rollups";
    private const string OverrunFunction = "modelmix_ledger_overrun_rollups";

    /// <summary>
    /// <c>SELECT</c> of daily rows (<see cref="Columns"/> order) summed from the hourly rows matching
    /// <paramref name="where"/>: integer and money measures summed, minimums and maximums kept.
    /// </summary>
    private static string DaysFromHourly(LedgerSqlDialect d, string where)
    {
        var columns = new List<string> { "(hour - (hour % " + Day + "))" };
        columns.AddRange(Dimensions.Skip(1));
        columns.AddRange(IntegerSums.Select(c => d.IntegerSum(c)));
        columns.AddRange(MoneySums.Select(c => d.MoneySum(c)));
        columns.AddRange(Minimums.Select(c => $"MIN({c})"));
        columns.AddRange(Maximums.Select(c => $"MAX({c})"));
        columns.Add(d.MoneySum(OverrunColumn));
        var groupBy = string.Join(", ", Enumerable.Range(1, Dimensions.Length).Select(i => i.ToString(CultureInfo.InvariantCulture)));
        return $"INSERT INTO {DailyTable} ({string.Join(", ", Columns)})\nSELECT {string.Join(", ", columns)} FROM {Table} WHERE {where} GROUP BY {groupBy};\n";
    }

    /// <summary>
    /// Recomputes the daily rows of the UTC days covering the hours [<paramref name="from"/>, <paramref name="to"/>)
    /// (parameter names or literals, stored ticks) from the hourly rows, which must already be right.
    /// </summary>
    public static string RecomputeDays(LedgerSqlDialect d, string from, string to)
    {
        ArgumentNullException.ThrowIfNull(d);
        var dayFrom = $"({from} - ({from} % {Day}))";
        var dayTo = $"({to} - ({to} % {Day}) + CASE WHEN {to} % {Day} = 0 THEN 0 ELSE {Day} END)";
        var range = $"hour >= {dayFrom} AND hour < {dayTo}";
        // The days' versions are raised with their rows (LedgerDayVersions): a cached audit of them is read again.
        return $"DELETE FROM {DailyTable} WHERE {range};\n" + DaysFromHourly(d, range) + LedgerDayVersions.BumpFrom("hour", DailyTable, range);
    }

    /// <summary>
    /// The migration step after ledger step 11 (SQLite step 12, PostgreSQL step 12): the hourly rollups get
    /// <c>overrun_usd</c>, backfilled from the raw rows still stored (an hour pruned before carries no overrun: its rows
    /// predate the column or are gone); the daily table is created and filled from the hourly rows (pruned hours
    /// included); and the trigger that carries an overrun booked after its row was inserted into both.
    /// </summary>
    public static string OverrunAndDailyMigration(LedgerSqlDialect d)
    {
        ArgumentNullException.ThrowIfNull(d);
        var dims = DimensionExpressions(d, v1: false, daily: false);
        var named = string.Join(", ", dims.Select((e, i) => $"{e} AS {Dimensions[i]}"));
        var groupBy = string.Join(", ", Enumerable.Range(1, Dimensions.Length).Select(i => i.ToString(CultureInfo.InvariantCulture)));
        var match = string.Join(" AND ", Dimensions.Select(c => $"{Table}.{c} = o.{c}"));
        var zero = d == LedgerSqlDialect.Sqlite ? "'0'" : "0";
        return
            $"ALTER TABLE {Table} ADD COLUMN {OverrunColumn} {d.Money} NOT NULL DEFAULT {zero};\n" +
            $"UPDATE {Table} SET {OverrunColumn} = o.overrun FROM (SELECT {named}, {d.MoneySum(OverrunColumn)} AS overrun " +
            $"FROM ledger_records WHERE {OverrunColumn} IS NOT NULL GROUP BY {groupBy}) AS o WHERE {match};\n" +
            CreateTable(d, DailyTable, Dimensions, overrun: true) +
            DaysFromHourly(d, "true") +
            OverrunTriggerSql(d);
    }

    /// <summary>
    /// The trigger: when a stored row's <c>overrun_usd</c> changes, the difference is added to its hourly and daily
    /// rollup rows (which the row's insert created). SQLite's uses the writer's exact decimal functions.
    /// </summary>
    private static string OverrunTriggerSql(LedgerSqlDialect d)
    {
        string Where(string table, bool daily)
        {
            var dims = DimensionExpressions(d, v1: false, daily).Select(NewRow).ToList();
            return $"UPDATE {table} SET {OverrunColumn} = {{0}} WHERE " +
                string.Join(" AND ", Dimensions.Select((c, i) => $"{c} = {dims[i]}")) + ";\n";
        }

        if (d == LedgerSqlDialect.Sqlite)
        {
            const string delta = $"modelmix_decimal_sub(modelmix_decimal_add({OverrunColumn}, COALESCE(NEW.{OverrunColumn}, '0')), COALESCE(OLD.{OverrunColumn}, '0'))";
            return $"CREATE TRIGGER {OverrunTrigger} AFTER UPDATE OF {OverrunColumn} ON ledger_records\n" +
                $"WHEN COALESCE(OLD.{OverrunColumn}, '0') IS NOT COALESCE(NEW.{OverrunColumn}, '0')\nBEGIN\n" +
                string.Format(CultureInfo.InvariantCulture, Where(Table, daily: false), delta) +
                string.Format(CultureInfo.InvariantCulture, Where(DailyTable, daily: true), delta) +
                "END;\n";
        }

        const string pgDelta = $"{OverrunColumn} + COALESCE(NEW.{OverrunColumn}, 0) - COALESCE(OLD.{OverrunColumn}, 0)";
        return $"CREATE FUNCTION {OverrunFunction}() RETURNS trigger LANGUAGE plpgsql AS $fn$\nBEGIN\n" +
            string.Format(CultureInfo.InvariantCulture, Where(Table, daily: false), pgDelta) +
            string.Format(CultureInfo.InvariantCulture, Where(DailyTable, daily: true), pgDelta) +
            "RETURN NULL;\nEND\n$fn$;\n" +
            $"CREATE TRIGGER {OverrunTrigger} AFTER UPDATE OF {OverrunColumn} ON ledger_records FOR EACH ROW " +
            $"WHEN (OLD.{OverrunColumn} IS DISTINCT FROM NEW.{OverrunColumn}) EXECUTE FUNCTION {OverrunFunction}();\n";
    }

    /// <summary>A grouping expression over the updated row (every raw column it names prefixed with <c>NEW.</c>).</summary>
    private static string NewRow(string expression) => RawColumn().Replace(expression, "NEW.$1");

    [GeneratedRegex(@"\b(timestamp|key_id|task_label|policy|routed_model|response_model|effort_is_default|effort|status|attempt|escalated_from|service_tier|speed|inference_geo|cost_total|output_tokens|input_tokens|cache_write_5m_tokens|cache_write_1h_tokens|cache_read_tokens)\b")]
    private static partial Regex RawColumn();
}
