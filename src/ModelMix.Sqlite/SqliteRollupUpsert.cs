using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ModelMix.Ledger;

/// <summary>
/// The writer's rollup statements (<see cref="LedgerRollupSql.UpsertRow"/>, hourly and daily), prepared once on the
/// writer connection and bound through SQLitePCL as the ledger insert is (<see cref="SqliteLedgerInsert"/>): a batch's
/// rows, summed in memory by <see cref="LedgerRollupBatch"/>, are merged into the stored rollups with one execution
/// per row and no managed allocation.
/// </summary>
internal sealed class SqliteRollupUpsert : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly sqlite3_stmt _hourly;
    private readonly sqlite3_stmt _daily;
    private byte[] _buffer = new byte[256];

    public SqliteRollupUpsert(SqliteConnection connection)
    {
        _connection = connection;
        var db = connection.Handle ?? throw new InvalidOperationException("The ledger's write connection is not open.");
        _hourly = Prepare(db, LedgerRollupSql.UpsertRow(LedgerSqlDialect.Sqlite, daily: false));
        _daily = Prepare(db, LedgerRollupSql.UpsertRow(LedgerSqlDialect.Sqlite, daily: true));
    }

    /// <summary>Merges <paramref name="batch"/>'s hourly and daily rows into the rollups, in the transaction under way.</summary>
    public void Write(LedgerRollupBatch batch)
    {
        foreach (var (key, sums) in batch.Hourly)
        {
            Execute(_hourly, key, sums);
        }

        foreach (var (key, sums) in batch.Daily)
        {
            Execute(_daily, key, sums);
        }
    }

    private void Execute(sqlite3_stmt s, in LedgerRollupBatch.Key key, LedgerRollupBatch.Sums sums)
    {
        try
        {
            // LedgerRollupSql.Columns order: the dimensions, the integer sums, the money sums, minimums, maximums, overrun.
            var i = 1;
            Integer(s, i++, key.Hour);
            Text(s, i++, key.KeyId);
            Text(s, i++, key.TaskLabel);
            Text(s, i++, key.Policy);
            Text(s, i++, key.RoutedModel);
            Text(s, i++, key.ResponseModel);
            Text(s, i++, key.Effort);
            Text(s, i++, key.Status);
            Integer(s, i++, key.AttemptKind);
            Text(s, i++, key.EscalatedFrom);
            Text(s, i++, key.ServiceTier);
            Text(s, i++, key.Speed);
            Text(s, i++, key.InferenceGeo);
            Integer(s, i++, key.Priced);
            Integer(s, i++, key.HasTokens);
            Integer(s, i++, key.EffortSent);
            foreach (var n in sums.Integers)
            {
                Integer(s, i++, n);
            }

            var money = sums.Money;
            for (var m = 0; m < money.Length - 1; m++)
            {
                Decimal(s, i++, money[m]);
            }

            Integer(s, i++, sums.FirstTimestamp);
            Integer(s, i++, sums.MinPromptTokens);
            Integer(s, i++, sums.LastTimestamp);
            Integer(s, i++, sums.MaxPromptTokens);
            Integer(s, i++, sums.MaxOutputTokens);
            Decimal(s, i, money[^1]); // overrun_usd, the last column
            var rc = raw.sqlite3_step(s);
            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _connection.Handle);
            }
        }
        finally
        {
            raw.sqlite3_reset(s);
            raw.sqlite3_clear_bindings(s);
        }
    }

    private static sqlite3_stmt Prepare(sqlite3 db, string sql)
    {
        var rc = raw.sqlite3_prepare_v2(db, sql, out var statement);
        SqliteException.ThrowExceptionForRC(rc, db);
        if (raw.sqlite3_bind_parameter_count(statement) != LedgerRollupSql.Columns.Length)
        {
            statement.Dispose();
            throw new InvalidOperationException($"The rollup upsert does not have {LedgerRollupSql.Columns.Length} parameters.");
        }

        return statement;
    }

    private void Integer(sqlite3_stmt s, int index, long value) => Check(raw.sqlite3_bind_int64(s, index, value));

    private void Text(sqlite3_stmt s, int index, string value)
    {
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max > _buffer.Length)
        {
            _buffer = new byte[Math.Max(max, _buffer.Length * 2)];
        }

        var length = Encoding.UTF8.GetBytes(value, _buffer);
        Check(raw.sqlite3_bind_text(s, index, _buffer.AsSpan(0, length)));
    }

    private void Decimal(sqlite3_stmt s, int index, decimal value)
    {
        // The text SqliteLedgerSchema.ToStoredDecimal writes (invariant general format), which reads back exactly.
        if (!value.TryFormat(_buffer, out var length, default, System.Globalization.CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"Could not format the decimal {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}.");
        }

        Check(raw.sqlite3_bind_text(s, index, _buffer.AsSpan(0, length)));
    }

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _connection.Handle);
        }
    }

    public void Dispose()
    {
        _hourly.Dispose();
        _daily.Dispose();
    }
}
