namespace ModelMix.Ledger;

/// <summary>
/// The rows a <see cref="LedgerQuery"/> selects, for the SQLite and PostgreSQL ledger stores: its <c>WHERE</c> clause
/// (<see cref="LedgerQueryFilter"/>), its <c>LIMIT</c>, and the two as a <c>FROM</c> source; only the parameter marker
/// and the sub-select's alias differ between the backends.
/// </summary>
internal static class LedgerQuerySource
{
    /// <summary>
    /// The source to select from: <c>ledger_records</c> with the query's clause, or, with a <see cref="LedgerQuery.Limit"/>,
    /// a sub-select of <paramref name="columns"/> of the first rows in ledger order.
    /// </summary>
    /// <param name="query">What to select.</param>
    /// <param name="columns">The columns the sub-select keeps.</param>
    /// <param name="marker">The parameter marker in SQL: <c>$</c> for SQLite, <c>@</c> for PostgreSQL.</param>
    /// <param name="addParameter">Adds a parameter to the command, under its bare name.</param>
    /// <param name="alias">What follows the sub-select (PostgreSQL requires an alias: <c> AS selected</c>).</param>
    public static string From(LedgerQuery query, string columns, char marker, Action<string, object> addParameter, string alias = "")
    {
        var where = LedgerQueryFilter.Where(query, marker, addParameter);
        return query.Limit is null
            ? "ledger_records" + where
            : $"(SELECT {columns} FROM ledger_records{where} ORDER BY timestamp, seq{Limit(query, marker, addParameter)}){alias}";
    }

    /// <summary>The query's <c>LIMIT</c> clause, or empty when it has none.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The limit is not positive.</exception>
    public static string Limit(LedgerQuery query, char marker, Action<string, object> addParameter)
    {
        if (query.Limit is not { } limit)
        {
            return string.Empty;
        }

        if (limit < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(query), limit, $"{nameof(LedgerQuery)}.{nameof(LedgerQuery.Limit)} must be positive when set.");
        }

        addParameter("limit", (long)limit);
        return $" LIMIT {marker}limit";
    }
}
