using System.Data.Common;
using System.Runtime.CompilerServices;
using ModelMix.Stores;

namespace ModelMix.Ledger;

/// <summary>
/// One page of an export (<see cref="ILedgerExportStore.ReadPageAsync"/>), read the same way by the SQLite and
/// PostgreSQL ledger stores: the query's <c>WHERE</c> (<see cref="LedgerQueryFilter"/>), then the rows after the cursor
/// in (timestamp, id) order. Only the parameter marker and how ids compare differ: PostgreSQL compares them with
/// <c>COLLATE "C"</c> (byte by byte, as SQLite does) whatever the database's collation.
/// </summary>
internal static class LedgerPages
{
    /// <summary>Reads up to <paramref name="limit"/> records after <paramref name="after"/>.</summary>
    /// <param name="open">Opens a read connection (checking first that the store is readable).</param>
    /// <param name="marker">The parameter marker in SQL: <c>$</c> for SQLite, <c>@</c> for PostgreSQL.</param>
    /// <param name="id">How the id column is compared and ordered (<c>id</c>, or <c>id COLLATE "C"</c>).</param>
    /// <param name="read">The store's record reader.</param>
    /// <param name="query">What to select (its limit is ignored).</param>
    /// <param name="after">The last row of the previous page, or null for the first page.</param>
    /// <param name="limit">The page size (at least 1).</param>
    /// <param name="cancellationToken">Stops the read.</param>
    public static async IAsyncEnumerable<LedgerRecord> ReadAsync(
        Func<CancellationToken, Task<DbConnection>> open,
        char marker,
        string id,
        Func<DbDataReader, LedgerRecord> read,
        LedgerQuery query,
        LedgerCursor? after,
        int limit,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await open(cancellationToken);
        await using var command = connection.CreateCommand();
        var where = LedgerQueryFilter.Where(query with { Limit = null }, marker, (name, value) => StoreCommands.Add(command, marker + name, value));
        if (after is { } cursor)
        {
            where += (where.Length == 0 ? " WHERE " : " AND ") +
                $"(timestamp > {marker}after_ts OR (timestamp = {marker}after_ts AND {id} > {marker}after_id))";
            StoreCommands.Add(command, marker + "after_ts", SqliteLedgerSchema.ToStoredTimestamp(cursor.Timestamp));
            StoreCommands.Add(command, marker + "after_id", cursor.Id);
        }

        StoreCommands.Add(command, marker + "page", limit);
        command.CommandText = $"SELECT {SqliteLedgerSchema.SelectColumns} FROM ledger_records{where} ORDER BY timestamp, {id} LIMIT {marker}page;";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return read(reader);
        }
    }
}
