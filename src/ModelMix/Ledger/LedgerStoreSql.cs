using System.Data.Common;
using System.Runtime.CompilerServices;
using ModelMix.Stores;

namespace ModelMix.Ledger;

/// <summary>
/// The ledger reads and writes the SQLite and PostgreSQL stores share word for word but for their
/// <see cref="LedgerStoreDialect"/>: the record query, the export's pages and its prune, the correction of estimates.
/// A store passes its dialect, how it opens a read connection (checking first that it is readable) and how it runs a
/// write transaction (SQLite through its single writer, PostgreSQL from the pool).
/// </summary>
internal static partial class LedgerStoreSql
{
    /// <summary>
    /// The record query (<see cref="ILedgerStore.ReadAsync"/>): the rows <paramref name="query"/> selects
    /// (<see cref="LedgerQueryFilter"/>, <see cref="LedgerQuerySource"/>'s limit), in timestamp then insertion order.
    /// </summary>
    /// <param name="d">The store's dialect.</param>
    /// <param name="open">Opens a read connection (checking first that the store is readable).</param>
    /// <param name="query">What to select.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    public static async IAsyncEnumerable<LedgerRecord> ReadAsync(
        LedgerStoreDialect d,
        Func<CancellationToken, Task<DbConnection>> open,
        LedgerQuery query,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        ArgumentNullException.ThrowIfNull(query);
        await using var connection = await open(cancellationToken);
        await using var command = connection.CreateCommand();
        var parameters = Parameters(command, d.Marker);
        var where = LedgerQueryFilter.Where(query, d.Marker, parameters);
        command.CommandText = $"SELECT {SqliteLedgerSchema.SelectColumns} FROM ledger_records{where} ORDER BY timestamp, seq{LedgerQuerySource.Limit(query, d.Marker, parameters)};";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return d.ReadRecord(reader);
        }
    }

    /// <summary>
    /// One page of an export (<see cref="ILedgerExportStore.ReadPageAsync"/>): the query's <c>WHERE</c>
    /// (<see cref="LedgerQueryFilter"/>), then up to <paramref name="limit"/> rows after the cursor in (timestamp, id) order.
    /// </summary>
    /// <param name="d">The store's dialect.</param>
    /// <param name="open">Opens a read connection (checking first that the store is readable).</param>
    /// <param name="query">What to select (its limit is ignored).</param>
    /// <param name="after">The last row of the previous page, or null for the first page.</param>
    /// <param name="limit">The page size (at least 1).</param>
    /// <param name="cancellationToken">Stops the read.</param>
    public static async IAsyncEnumerable<LedgerRecord> ReadPageAsync(
        LedgerStoreDialect d,
        Func<CancellationToken, Task<DbConnection>> open,
        LedgerQuery query,
        LedgerCursor? after,
        int limit,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var m = d.Marker;
        await using var connection = await open(cancellationToken);
        await using var command = connection.CreateCommand();
        var where = LedgerQueryFilter.Where(query with { Limit = null }, m, Parameters(command, m));
        if (after is { } cursor)
        {
            where += (where.Length == 0 ? " WHERE " : " AND ") +
                $"(timestamp > {m}after_ts OR (timestamp = {m}after_ts AND {d.Id} > {m}after_id))";
            StoreCommands.Add(command, m + "after_ts", SqliteLedgerSchema.ToStoredTimestamp(cursor.Timestamp));
            StoreCommands.Add(command, m + "after_id", cursor.Id);
        }

        StoreCommands.Add(command, m + "page", limit);
        command.CommandText = $"SELECT {SqliteLedgerSchema.SelectColumns} FROM ledger_records{where} ORDER BY timestamp, {d.Id} LIMIT {m}page;";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return d.ReadRecord(reader);
        }
    }

    /// <summary>
    /// The prune of exported rows (<see cref="ILedgerExportStore.DeleteExportedAsync"/>): one delete of the rows before
    /// the cut that returns each deleted row's total, checked against the export (<see cref="LedgerPruneCheck"/>) before
    /// the transaction commits.
    /// </summary>
    public static Task<LedgerPruneBatch> DeleteExportedAsync(
        LedgerStoreDialect d,
        LedgerWriteTransaction<LedgerPruneBatch> write,
        IReadOnlyList<LedgerExportedRow> rows,
        DateTimeOffset before,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0)
        {
            return Task.FromResult(default(LedgerPruneBatch));
        }

        return write(
            async (connection, transaction) =>
            {
                var m = d.Marker;
                var deleted = new List<(string Id, decimal? Cost)>(rows.Count);
                var days = new HashSet<long>();
                await using (var delete = StoreCommands.Create(
                    connection, $"DELETE FROM ledger_records WHERE {d.IdIn(m + "ids")} AND timestamp < {m}before RETURNING id, cost_total, timestamp;", transaction))
                {
                    StoreCommands.Add(delete, m + "ids", d.IdList(rows));
                    StoreCommands.Add(delete, m + "before", SqliteLedgerSchema.ToStoredTimestamp(before));
                    await using var reader = await delete.ExecuteReaderAsync(cancellationToken);
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        deleted.Add((reader.GetString(0), reader.IsDBNull(1) ? null : d.ReadMoney(reader, 1)));
                        var at = reader.GetInt64(2);
                        days.Add(at - (at % LedgerRollupSql.DayTicks));
                    }
                }

                // The pruned days change (an hour whose rollups cannot stand for its calls is read from them once its raw
                // rows are gone): their versions are raised (LedgerDayVersions), so a cached audit of them is read again.
                if (LedgerDayVersions.BumpDays(days) is { Length: > 0 } bump)
                {
                    await using var versions = StoreCommands.Create(connection, bump, transaction);
                    await versions.ExecuteNonQueryAsync(cancellationToken);
                }

                return LedgerPruneCheck.Verify(rows, deleted); // throws (the transaction is rolled back) when a row changed since its export
            },
            cancellationToken);
    }

    /// <summary>Binds a parameter the query builders name (without the marker).</summary>
    private static Action<string, object> Parameters(DbCommand command, char marker) =>
        (name, value) => StoreCommands.Add(command, marker + name, value);
}

/// <summary>
/// Runs <paramref name="work"/> in a write transaction of the store and commits it when the work returns (rolls it back
/// when it throws or <paramref name="cancellationToken"/> is canceled first).
/// </summary>
internal delegate Task<T> LedgerWriteTransaction<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken);

/// <summary>
/// What differs between the SQLite and PostgreSQL ledger stores in the SQL they share (<see cref="LedgerStoreSql"/>):
/// the parameter marker, how ids compare, how money and flags are stored and read, how a list of ids is bound, how long an
/// aggregate may run, how rows and rollups are locked for a correction and how its hours are recomputed. Each backend holds one.
/// </summary>
internal sealed class LedgerStoreDialect
{
    /// <summary>The parameter marker in SQL: <c>$</c> for SQLite, <c>@</c> for PostgreSQL.</summary>
    public required char Marker { get; init; }

    /// <summary>
    /// How the id column is compared and ordered: <c>id</c>, or in PostgreSQL <c>id COLLATE "C"</c> (byte by byte, as
    /// SQLite compares, whatever the database's collation).
    /// </summary>
    public required string Id { get; init; }

    /// <summary>The store's record reader over a row of the full column list (<see cref="LedgerRows"/>).</summary>
    public required Func<DbDataReader, LedgerRecord> ReadRecord { get; init; }

    /// <summary>Reads a non-null money column (SQLite: decimal text; PostgreSQL: <c>numeric</c>).</summary>
    public required Func<DbDataReader, int, decimal> ReadMoney { get; init; }

    /// <summary>Reads a non-null flag column (SQLite: an integer 0/1; PostgreSQL: <c>boolean</c>).</summary>
    public required Func<DbDataReader, int, bool> ReadFlag { get; init; }

    /// <summary>
    /// The command timeout (seconds) of a read that aggregates over a range's rows before its first row comes (the
    /// escalation count, the session sums, the latency percentiles): null keeps the provider's default (SQLite's, which
    /// bounds its wait for a locked file), 0 in PostgreSQL (no timeout; the token still cancels).
    /// </summary>
    public required int? AggregateTimeout { get; init; }

    /// <summary>
    /// Prepares a read connection for the rollup SQL's money sums (<see cref="LedgerSqlDialect.MoneySum"/>): SQLite adds its
    /// exact decimal sum function; nothing in PostgreSQL (null).
    /// </summary>
    public required Action<DbConnection>? AddSumFunctions { get; init; }

    /// <summary>
    /// The condition "id is in the list bound to the named parameter" (SQLite: a JSON array through <c>json_each</c>;
    /// PostgreSQL: <c>= ANY</c> of a text array).
    /// </summary>
    public required Func<string, string> IdIn { get; init; }

    /// <summary>The value of that parameter for these rows' ids.</summary>
    public required Func<IReadOnlyList<LedgerExportedRow>, object> IdList { get; init; }

    /// <summary>The rollup SQL's dialect, for a truth test and an integer sum (<see cref="LedgerSqlDialect"/>).</summary>
    public required LedgerSqlDialect Sql { get; init; }

    /// <summary>The literal of a false flag (<c>0</c>, <c>false</c>).</summary>
    public required string False { get; init; }

    /// <summary>Appended to a select of rows the transaction will update: empty, or <c> FOR UPDATE</c>.</summary>
    public required string ForUpdate { get; init; }

    /// <summary>
    /// Run first in a transaction that recomputes rollups, so no writer adds to a rollup row deleted and rebuilt meanwhile:
    /// null where writers are serialized anyway (SQLite's single writer), a table lock in PostgreSQL.
    /// </summary>
    public required string? LockRollups { get; init; }

    /// <summary>The stored form of an amount (SQLite: decimal text; PostgreSQL: the <see cref="decimal"/> itself, <c>numeric</c>).</summary>
    public required Func<decimal, object> StoredMoney { get; init; }

    /// <summary>Recomputes the rollups of the hours [from, to) from the raw rows, in the transaction (the rollup code's recompute).</summary>
    public required Func<DbConnection, DbTransaction, long, long, CancellationToken, Task> RecomputeHours { get; init; }
}
