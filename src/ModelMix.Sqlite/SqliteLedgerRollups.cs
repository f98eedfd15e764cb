using System.Globalization;
using Microsoft.Data.Sqlite;

namespace ModelMix.Ledger;

/// <summary>
/// The SQLite side of the hourly rollups (<see cref="LedgerRollupSql"/>): the exact decimal functions the writer
/// connection needs and the recompute of a repricing (the writer adds its rows through <see cref="SqliteRollupUpsert"/>).
/// </summary>
internal static class SqliteLedgerRollups
{
    /// <summary>Aggregate: the exact <see cref="decimal"/> sum of decimal text (NULLs skipped; "0" over none).</summary>
    public const string DecimalSumFunction = "modelmix_decimal_sum";

    /// <summary>Scalar: the exact <see cref="decimal"/> sum of two decimal texts.</summary>
    public const string DecimalAddFunction = "modelmix_decimal_add";

    /// <summary>Scalar: the exact <see cref="decimal"/> difference of two decimal texts (the overrun trigger's).</summary>
    public const string DecimalSubtractFunction = "modelmix_decimal_sub";

    /// <summary>Registers the exact decimal functions on a connection (the writer's; readers that sum money too).</summary>
    public static void RegisterFunctions(SqliteConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        connection.CreateAggregate<string?, decimal, string>(
            DecimalSumFunction,
            0m,
            static (sum, text) => text is null ? sum : sum + SqliteLedgerSchema.FromStoredDecimal(text),
            static sum => SqliteLedgerSchema.ToStoredDecimal(sum),
            isDeterministic: true);
        connection.CreateFunction<string, string, string>(
            DecimalAddFunction,
            static (a, b) => SqliteLedgerSchema.ToStoredDecimal(SqliteLedgerSchema.FromStoredDecimal(a) + SqliteLedgerSchema.FromStoredDecimal(b)),
            isDeterministic: true);
        connection.CreateFunction<string, string, string>(
            DecimalSubtractFunction,
            static (a, b) => SqliteLedgerSchema.ToStoredDecimal(SqliteLedgerSchema.FromStoredDecimal(a) - SqliteLedgerSchema.FromStoredDecimal(b)),
            isDeterministic: true);
    }

    /// <summary>
    /// Recomputes the rollups of the hours of [<paramref name="fromHour"/>, <paramref name="toHour"/>) from the raw rows still
    /// stored: for a repricing that changed stored costs. Hours whose raw rows were pruned must not be recomputed. The daily
    /// rows of the days covering those hours are then recomputed from the hourly rows.
    /// </summary>
    public static void Recompute(SqliteConnection connection, SqliteTransaction transaction, long fromHour, long toHour)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText =
            $"DELETE FROM {LedgerRollupSql.Table} WHERE hour >= $from AND hour < $to;\n" +
            LedgerRollupSql.Upsert(LedgerSqlDialect.Sqlite, "ledger_records", "timestamp >= $from AND timestamp < $to") + "\n" +
            LedgerRollupSql.RecomputeDays(LedgerSqlDialect.Sqlite, "$from", "$to");
        command.Parameters.AddWithValue("$from", fromHour);
        command.Parameters.AddWithValue("$to", toHour);
        command.ExecuteNonQuery();
    }

    /// <summary>The hour (in stored ticks) an instant falls in.</summary>
    public static long HourOf(long storedTimestamp) => storedTimestamp - (storedTimestamp % LedgerRollupSql.HourTicks);

}
