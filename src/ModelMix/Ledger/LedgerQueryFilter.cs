using System.Text;

namespace ModelMix.Ledger;

/// <summary>
/// The <c>WHERE</c> clause a <see cref="LedgerQuery"/> selects, shared by the SQLite and PostgreSQL ledger stores
/// (same columns, same stored values); only the parameter marker differs.
/// </summary>
internal static class LedgerQueryFilter
{
    /// <summary>
    /// Builds the clause (empty when the query selects everything), with each value passed to
    /// <paramref name="addParameter"/> under its bare name (e.g. <c>from</c>).
    /// </summary>
    /// <param name="query">What to select.</param>
    /// <param name="marker">The parameter marker in SQL: <c>$</c> for SQLite, <c>@</c> for PostgreSQL.</param>
    /// <param name="addParameter">Adds a parameter to the command.</param>
    public static string Where(LedgerQuery query, char marker, Action<string, object> addParameter)
    {
        var sql = new StringBuilder();

        void Add(string column, string comparison, string name, object value)
        {
            sql.Append(sql.Length == 0 ? " WHERE " : " AND ")
                .Append(column).Append(' ').Append(comparison).Append(' ').Append(marker).Append(name);
            addParameter(name, value);
        }

        if (query.From is { } from)
        {
            Add("timestamp", ">=", "from", SqliteLedgerSchema.ToStoredTimestamp(from));
        }

        if (query.To is { } to)
        {
            Add("timestamp", "<", "to", SqliteLedgerSchema.ToStoredTimestamp(to));
        }

        if (query.RequestId is { } requestId)
        {
            Add("request_id", "=", "request_id", requestId);
        }

        if (query.SessionId is { } sessionId)
        {
            Add("session_id", "=", "session_id", sessionId);
        }

        if (query.KeyId is { } keyId)
        {
            Add("key_id", "=", "key_id", keyId);
        }

        if (query.TaskLabel is { } taskLabel)
        {
            Add("task_label", "=", "task_label", taskLabel);
        }

        if (query.Model is { } model)
        {
            Add("routed_model", "=", "model", model);
        }

        if (query.Status is { } status)
        {
            Add("status", "=", "status", SqliteLedgerSchema.ToCode(status));
        }

        return sql.ToString();
    }
}
