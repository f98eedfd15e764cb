using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ModelMix.Ledger;

/// <summary>
/// Binds values to the ledger writer's prepared SQLitePCL statements without managed allocations: strings and decimals
/// are encoded into one reused buffer and bound as spans (SQLite copies them, SQLITE_TRANSIENT). Shared by the writer's
/// statements (<see cref="SqliteLedgerInsert"/>, <see cref="SqliteRollupUpsert"/>), which run under the writer's lock.
/// </summary>
internal sealed class SqliteSpanBinder(SqliteConnection connection)
{
    private byte[] _buffer = new byte[512];

    /// <summary>Prepares <paramref name="sql"/> on the connection and checks it takes <paramref name="parameters"/> parameters.</summary>
    public sqlite3_stmt Prepare(string sql, int parameters, string what)
    {
        var db = connection.Handle ?? throw new InvalidOperationException("The ledger's write connection is not open.");
        SqliteException.ThrowExceptionForRC(raw.sqlite3_prepare_v2(db, sql, out var statement), db);
        var count = raw.sqlite3_bind_parameter_count(statement);
        if (count != parameters)
        {
            statement.Dispose();
            throw new InvalidOperationException($"{what} has {count} parameters, expected {parameters}.");
        }

        return statement;
    }

    public void Integer(sqlite3_stmt statement, int index, long value) => Check(raw.sqlite3_bind_int64(statement, index, value));

    public void Null(sqlite3_stmt statement, int index) => Check(raw.sqlite3_bind_null(statement, index));

    /// <summary>Binds <paramref name="value"/> as UTF-8 text, or NULL.</summary>
    public void Text(sqlite3_stmt statement, int index, string? value)
    {
        if (value is null)
        {
            Null(statement, index);
            return;
        }

        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max > _buffer.Length)
        {
            _buffer = new byte[Math.Max(max, _buffer.Length * 2)];
        }

        var length = Encoding.UTF8.GetBytes(value, _buffer);
        Check(raw.sqlite3_bind_text(statement, index, _buffer.AsSpan(0, length)));
    }

    /// <summary>Binds <paramref name="value"/> as the text <see cref="SqliteLedgerSchema.ToStoredDecimal"/> writes (invariant general format), which reads back exactly.</summary>
    public void Decimal(sqlite3_stmt statement, int index, decimal value)
    {
        if (!value.TryFormat(_buffer, out var length, default, CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"Could not format the decimal {value.ToString(CultureInfo.InvariantCulture)}.");
        }

        Check(raw.sqlite3_bind_text(statement, index, _buffer.AsSpan(0, length)));
    }

    /// <summary>Runs a statement that returns no rows.</summary>
    public void Step(sqlite3_stmt statement)
    {
        var rc = raw.sqlite3_step(statement);
        if (rc != raw.SQLITE_DONE)
        {
            SqliteException.ThrowExceptionForRC(rc, connection.Handle);
        }
    }

    /// <summary>Resets a statement and clears its bindings for the next execution.</summary>
    public static void Reset(sqlite3_stmt statement)
    {
        raw.sqlite3_reset(statement);
        raw.sqlite3_clear_bindings(statement);
    }

    public void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, connection.Handle);
        }
    }
}
