using System.Data.Common;
using System.Globalization;

namespace ModelMix.Stores;

/// <summary>
/// Commands over the ADO.NET base types, for the SQL that the SQLite and PostgreSQL stores share word for word. Shared
/// SQL names its parameters <c>@name</c>, which both Microsoft.Data.Sqlite and Npgsql bind; SQL that differs by backend
/// stays in each store.
/// </summary>
internal static class StoreCommands
{
    /// <summary>A command of <paramref name="sql"/> on <paramref name="connection"/> (in <paramref name="transaction"/> when given).</summary>
    public static DbCommand Create(DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    /// <summary>A command of <paramref name="sql"/> with one parameter.</summary>
    public static DbCommand Create(DbConnection connection, string sql, string name, object value)
    {
        var command = Create(connection, sql);
        Add(command, name, value);
        return command;
    }

    /// <summary>Adds the parameter <paramref name="name"/> (spelled <c>@name</c>); null is bound as SQL NULL.</summary>
    public static void Add(DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    /// <summary>A scalar truth value: SQLite answers <c>EXISTS</c> with an integer, PostgreSQL with a boolean.</summary>
    public static async Task<bool> ScalarBooleanAsync(DbCommand command, CancellationToken cancellationToken) =>
        Convert.ToBoolean(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);

    /// <summary>A scalar 64-bit integer (never null).</summary>
    public static async Task<long> ScalarInt64Async(DbCommand command, CancellationToken cancellationToken) =>
        Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
}
