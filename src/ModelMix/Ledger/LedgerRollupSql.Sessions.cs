using System.Globalization;

namespace ModelMix.Ledger;

/// <summary>
/// The per-session hourly sums (docs/ledger.md, "Rollups"): <see cref="SessionTable"/> holds one row per UTC hour × key ×
/// session id (calls with a session id only) with its calls, cost (<c>cost_total</c> summed exactly) and first and last
/// timestamps. The writer upserts it from the rows a batch inserted, beside the hourly and daily rollups and in the same
/// transaction; repricing and corrections recompute its hours from the raw rows. The audit's per-session statistics
/// (runaway-session flags) over whole hours are summed from it (<see cref="SessionSummariesSql"/>), so a dashboard view
/// reads about one row per active session and hour, never the window's raw rows.
/// </summary>
internal static partial class LedgerRollupSql
{
    /// <summary>The per-session hourly table.</summary>
    public const string SessionTable = "ledger_session_hours";

    private static readonly string[] SessionColumns = ["hour", "key_id", "session_id", "calls", "cost_total", "first_timestamp", "last_timestamp"];

    /// <summary>The per-session sums of the raw rows of <paramref name="source"/> matching <paramref name="where"/>, per hour (<see cref="SessionColumns"/> order).</summary>
    private static string SessionSelect(LedgerSqlDialect d, string source, string where) =>
        $"SELECT {HourOfTimestamp}, COALESCE(key_id, ''), session_id, COUNT(*), {d.MoneySum("cost_total")}, MIN(timestamp), MAX(timestamp) " +
        $"FROM {source} WHERE ({where}) AND session_id IS NOT NULL GROUP BY 1, 2, 3";

    /// <summary>
    /// Adds the per-session sums of <paramref name="source"/> rows matching <paramref name="where"/> to <see cref="SessionTable"/>;
    /// without the final semicolon when not <paramref name="terminated"/> (a PostgreSQL data-modifying <c>WITH</c> part).
    /// </summary>
    public static string SessionUpsert(LedgerSqlDialect d, string source, string where, bool terminated = true)
    {
        ArgumentNullException.ThrowIfNull(d);
        return $"INSERT INTO {SessionTable} ({string.Join(", ", SessionColumns)})\n{SessionSelect(d, source, where)}\n" +
            SessionOnConflictAdd(d) + (terminated ? ";" : string.Empty);
    }

    /// <summary>
    /// Adds one per-session row given as the parameters <c>?1</c>…<c>?7</c> (hour, key id, session id, calls, cost,
    /// first and last timestamp) to <see cref="SessionTable"/>: the SQLite writer's statement for the rows it summed in
    /// memory (<see cref="LedgerRollupBatch"/>), merged as <see cref="SessionUpsert"/> merges.
    /// </summary>
    public static string SessionUpsertRow(LedgerSqlDialect d) =>
        $"INSERT INTO {SessionTable} ({string.Join(", ", SessionColumns)}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)\n" + SessionOnConflictAdd(d) + ";";

    private static string SessionOnConflictAdd(LedgerSqlDialect d)
    {
        const string t = SessionTable;
        return $"ON CONFLICT (hour, key_id, session_id) DO UPDATE SET calls = {t}.calls + excluded.calls, " +
            $"cost_total = {d.MoneyAdd($"{t}.cost_total", "excluded.cost_total")}, " +
            $"first_timestamp = {d.Least($"{t}.first_timestamp", "excluded.first_timestamp")}, " +
            $"last_timestamp = {d.Greatest($"{t}.last_timestamp", "excluded.last_timestamp")}";
    }

    /// <summary>Recomputes the per-session rows of the hours [<paramref name="from"/>, <paramref name="to"/>) (parameter names, stored ticks) from the raw rows.</summary>
    public static string RecomputeSessionHours(LedgerSqlDialect d, string from, string to) =>
        $"DELETE FROM {SessionTable} WHERE hour >= {from} AND hour < {to};\n" +
        SessionUpsert(d, "ledger_records", $"timestamp >= {from} AND timestamp < {to}") + "\n";

    /// <summary>
    /// The migration step after the daily rollups' (SQLite 13, PostgreSQL 13): <see cref="SessionTable"/> created and filled
    /// from every raw row still stored (an hour pruned before has no rows there, as it has no raw rows to sum).
    /// </summary>
    public static string SessionHoursMigration(LedgerSqlDialect d)
    {
        ArgumentNullException.ThrowIfNull(d);
        return $"CREATE TABLE {SessionTable} (\n" +
            $"    hour {d.Integer} NOT NULL,\n    key_id {d.Text} NOT NULL,\n    session_id {d.Text} NOT NULL,\n" +
            $"    calls {d.Integer} NOT NULL,\n    cost_total {d.Money} NOT NULL,\n" +
            $"    first_timestamp {d.Integer} NOT NULL,\n    last_timestamp {d.Integer} NOT NULL,\n" +
            $"    PRIMARY KEY (hour, key_id, session_id)\n){d.TableSuffix};\n" +
            $"INSERT INTO {SessionTable} ({string.Join(", ", SessionColumns)})\n{SessionSelect(d, "ledger_records", "true")};\n";
    }

    /// <summary>
    /// Each (key, session)'s sums over the hours [<paramref name="prefix"/>from, <paramref name="prefix"/>to) of
    /// <see cref="SessionTable"/>, in <see cref="LedgerRollupReader.SessionSummariesSql"/>'s columns (key id '' for none).
    /// </summary>
    public static string SessionSummariesSql(LedgerSqlDialect d, char prefix, bool from, bool to)
    {
        ArgumentNullException.ThrowIfNull(d);
        var where = (from ? $" AND hour >= {prefix}from" : string.Empty) + (to ? $" AND hour < {prefix}to" : string.Empty);
        return $"SELECT key_id, session_id, MIN(first_timestamp), MAX(last_timestamp), {d.MoneySum("cost_total")}, {d.IntegerSum("calls")} " +
            $"FROM {SessionTable} WHERE true{where} GROUP BY key_id, session_id;";
    }

    /// <summary>The latest call's timestamp among the per-session rows of the hour <paramref name="prefix"/>hour, or <see cref="long.MinValue"/> over none.</summary>
    public static string SessionHourLastSql(char prefix) =>
        $"SELECT COALESCE(MAX(last_timestamp), {long.MinValue.ToString(CultureInfo.InvariantCulture)}) FROM {SessionTable} WHERE hour = {prefix}hour;";

    /// <summary>
    /// Whether the per-session hourly rows can stand for the raw rows of [<paramref name="from"/>, <paramref name="to"/>):
    /// the range starts on an hour (or is open), and, when it ends inside an hour, none of that hour's calls lies at or after
    /// its end (<paramref name="lastInEndHour"/>, the latest call of the end's hour, from <see cref="SessionHourLastSql"/>; asked only when needed).
    /// Otherwise the store sums the raw rows, as before the table existed.
    /// </summary>
    public static async Task<bool> SessionHoursCoverAsync(DateTimeOffset? from, DateTimeOffset? to, Func<long, Task<long>> lastInEndHour)
    {
        ArgumentNullException.ThrowIfNull(lastInEndHour);
        if (from is { } f && LedgerRollupReader.FloorHour(f) != SqliteLedgerSchema.ToStoredTimestamp(f))
        {
            return false;
        }

        if (to is not { } t)
        {
            return true;
        }

        var end = SqliteLedgerSchema.ToStoredTimestamp(t);
        var hour = LedgerRollupReader.FloorHour(t);
        return hour == end || await lastInEndHour(hour) < end;
    }
}
