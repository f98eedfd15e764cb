using System.Globalization;

namespace ModelMix.Ledger;

/// <summary>
/// Per UTC day, a change counter of everything an audit reads for that day (docs/ledger.md, "Rollups": "Day versions"):
/// <c>ledger_day_versions</c> holds one row per day, its <c>version</c> raised by one in the same transaction as every
/// change to the day's raw rows or rollups — the writer's batch (SQLite: <c>SqliteRollupUpsert</c>; PostgreSQL: the first
/// statement of the move), an overrun booked on a stored row (a trigger), a repricing or a correction
/// (<see cref="LedgerRollupSql.RecomputeDays"/>) and a prune (<see cref="LedgerStoreSql.DeleteExportedAsync"/>, PostgreSQL's
/// dropped partitions). A day without a row has version 0. So a reader that read a day's version before its data can keep
/// what it derived from that data for as long as the version stays the same (<see cref="Audit.AuditDayCache"/>).
/// </summary>
internal static class LedgerDayVersions
{
    /// <summary>The table.</summary>
    public const string Table = "ledger_day_versions";

    private const string OverrunTrigger = "ledger_records_overrun_day_version";
    private const string OverrunFunction = "modelmix_ledger_overrun_day_version";

    private static readonly string Day = LedgerRollupSql.DayTicks.ToString(CultureInfo.InvariantCulture);

    /// <summary>The conflict clause that raises a stored day's version by one (a new day starts at 1).</summary>
    public const string OnConflictBump = $"ON CONFLICT (day) DO UPDATE SET version = {Table}.version + 1";

    /// <summary>The UTC day (stored ticks) of a stored timestamp expression.</summary>
    public static string DayOf(string timestamp) => $"({timestamp} - ({timestamp} % {Day}))";

    /// <summary>
    /// Raises by one the version of every day of <paramref name="source"/>'s rows matching <paramref name="where"/>, whose
    /// day is <paramref name="dayExpression"/> (stored ticks); days taken in order, so two writers lock them in one order.
    /// </summary>
    public static string BumpFrom(string dayExpression, string source, string where) =>
        $"INSERT INTO {Table} (day, version) SELECT DISTINCT {dayExpression}, 1 FROM {source} WHERE {where} ORDER BY 1 {OnConflictBump};\n";

    /// <summary>Raises the version of the day given as the parameter <c>?1</c> (SQLite's writer, once per day of a batch).</summary>
    public const string BumpOne = $"INSERT INTO {Table} (day, version) VALUES (?1, 1) {OnConflictBump};";

    /// <summary>
    /// The migration step (SQLite 15, PostgreSQL 15): the table, and a trigger raising the day of a stored row whose
    /// <c>overrun_usd</c> changes (settlement and budget leases book it after the insert; the rollups' own trigger adds it
    /// to the day's rows). No backfill: every day starts at version 0.
    /// </summary>
    public static string Migration(LedgerSqlDialect d)
    {
        ArgumentNullException.ThrowIfNull(d);
        var create = $"CREATE TABLE {Table} (day {d.Integer} NOT NULL PRIMARY KEY, version {d.Integer} NOT NULL){(d == LedgerSqlDialect.Sqlite ? " STRICT, WITHOUT ROWID" : string.Empty)};\n";
        var bump = $"INSERT INTO {Table} (day, version) VALUES ({DayOf("NEW.timestamp")}, 1) {OnConflictBump};\n";
        const string overrun = LedgerRollupSql.OverrunColumn;
        if (d == LedgerSqlDialect.Sqlite)
        {
            return create +
                $"CREATE TRIGGER {OverrunTrigger} AFTER UPDATE OF {overrun} ON ledger_records\n" +
                $"WHEN OLD.{overrun} IS NOT NEW.{overrun}\nBEGIN\n{bump}END;\n";
        }

        return create +
            $"CREATE FUNCTION {OverrunFunction}() RETURNS trigger LANGUAGE plpgsql AS $fn$\nBEGIN\n{bump}RETURN NULL;\nEND\n$fn$;\n" +
            $"CREATE TRIGGER {OverrunTrigger} AFTER UPDATE OF {overrun} ON ledger_records FOR EACH ROW " +
            $"WHEN (OLD.{overrun} IS DISTINCT FROM NEW.{overrun}) EXECUTE FUNCTION {OverrunFunction}();\n";
    }

    /// <summary>Undoes <see cref="Migration"/> (tests that go back to an older schema).</summary>
    public static string Drop(LedgerSqlDialect d) => d == LedgerSqlDialect.Sqlite
        ? $"DROP TRIGGER {OverrunTrigger}; DROP TABLE {Table};"
        : $"DROP TRIGGER {OverrunTrigger} ON ledger_records; DROP FUNCTION {OverrunFunction}(); DROP TABLE {Table};";

    /// <summary>The versions of the days in [<paramref name="prefix"/>from, <paramref name="prefix"/>to) (stored midnights).</summary>
    public static string SelectSql(char prefix) => $"SELECT day, version FROM {Table} WHERE day >= {prefix}from AND day < {prefix}to;";

    /// <summary>Reads the versions of the days in [<paramref name="from"/>, <paramref name="to"/>) on an open connection (both stores).</summary>
    public static async Task<IReadOnlyDictionary<DateTimeOffset, long>> ReadAsync(
        System.Data.Common.DbConnection connection, char marker, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var command = Stores.StoreCommands.Create(connection, SelectSql(marker));
        Stores.StoreCommands.Add(command, marker + "from", LedgerRollupReader.FloorDay(from));
        Stores.StoreCommands.Add(command, marker + "to", LedgerRollupReader.CeilingDay(to));
        var versions = new Dictionary<DateTimeOffset, long>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            versions[SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(0))] = reader.GetInt64(1);
        }

        return versions;
    }

    /// <summary>A statement raising the versions of <paramref name="days"/> (stored midnights, literals: no parameters needed).</summary>
    public static string BumpDays(IEnumerable<long> days)
    {
        var values = string.Join(", ", days.Distinct().Order().Select(day => $"({day.ToString(CultureInfo.InvariantCulture)}, 1)"));
        return values.Length == 0 ? string.Empty : $"INSERT INTO {Table} (day, version) VALUES {values} {OnConflictBump};";
    }
}

/// <summary>A store that keeps <see cref="LedgerDayVersions"/> (both shipped stores).</summary>
internal interface ILedgerDayVersions
{
    /// <summary>
    /// The version of every day in [<paramref name="from"/>, <paramref name="to"/>) (UTC midnights) that has one; a day
    /// missing from the answer has version 0.
    /// </summary>
    Task<IReadOnlyDictionary<DateTimeOffset, long>> ReadDayVersionsAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);
}
