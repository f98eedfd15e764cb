using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ModelMix.Ledger;

/// <summary>
/// The intents table (schema step 8's narrow <c>ledger_intents</c>) since intents moved to append-only files
/// (<see cref="SqliteIntentFiles"/>): a ledger batch still deletes the table intent of each record it stores, with a
/// delete prepared once on the writer connection, for intents a process of an earlier version wrote; reconciliation
/// reads the table's intents of dead instances with <see cref="LedgerIntentRows.Read"/>.
/// </summary>
internal sealed class SqliteIntentInsert : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly sqlite3_stmt _complete;
    private byte[] _buffer = new byte[256];

    public SqliteIntentInsert(SqliteConnection connection)
    {
        _connection = connection;
        var db = connection.Handle ?? throw new InvalidOperationException("The ledger's write connection is not open.");
        _complete = Prepare(db, "DELETE FROM ledger_intents WHERE id = ?1;");
    }

    /// <summary>Deletes the intent <paramref name="id"/> (if any) in the transaction under way: its record is in it.</summary>
    public void Complete(string id)
    {
        try
        {
            Text(_complete, 1, id);
            var rc = raw.sqlite3_step(_complete);
            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _connection.Handle);
            }
        }
        finally
        {
            raw.sqlite3_reset(_complete);
            raw.sqlite3_clear_bindings(_complete);
        }
    }

    public void Dispose()
    {
        _complete.Dispose();
    }

    private static sqlite3_stmt Prepare(sqlite3 db, string sql)
    {
        var rc = raw.sqlite3_prepare_v2(db, sql, out var statement);
        SqliteException.ThrowExceptionForRC(rc, db);
        return statement;
    }

    private void Text(sqlite3_stmt statement, int index, string? value)
    {
        if (value is null)
        {
            Check(raw.sqlite3_bind_null(statement, index));
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

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _connection.Handle);
        }
    }
}
