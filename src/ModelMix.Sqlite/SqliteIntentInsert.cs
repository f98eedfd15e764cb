using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ModelMix.Ledger;

/// <summary>
/// The intents table (schema step 8's narrow <c>ledger_intents</c>) since intents moved to append-only files
/// (<see cref="SqliteIntentFiles"/>): a ledger batch still deletes the table intent of each record it stores, with a
/// delete prepared once on the writer connection, for intents a process of an earlier version wrote; reconciliation
/// reads the table's intents of dead instances with <see cref="Read"/>.
/// </summary>
internal sealed class SqliteIntentInsert : IDisposable
{
    /// <summary><see cref="SqliteLedgerSchema.IntentColumns"/> qualified with the alias <c>i</c>, for reads.</summary>
    public static readonly string QualifiedColumns = LedgerRowSql.QualifiedIntentColumns;

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

    /// <summary>Throws <see cref="ArgumentException"/> for an intent that could never become a stored record.</summary>
    public static void RequireFields(LedgerIntent intent, string paramName) => LedgerRowSql.RequireIntentFields(intent, paramName);

    /// <summary>Reads an intent selected with <see cref="QualifiedColumns"/> (or the columns in that order).</summary>
    public static LedgerIntent Read(SqliteDataReader r) => new()
    {
        Id = r.GetString(0),
        CreatedAt = SqliteLedgerSchema.FromStoredTimestamp(r.GetInt64(1)),
        ReservationId = r.IsDBNull(3) ? null : r.GetString(3),
        RequestId = r.GetString(4),
        KeyId = r.IsDBNull(5) ? null : r.GetString(5),
        SessionId = r.IsDBNull(6) ? null : r.GetString(6),
        TaskLabel = r.IsDBNull(7) ? null : r.GetString(7),
        RequestedModel = r.GetString(8),
        RoutedModel = r.GetString(9),
        Policy = r.IsDBNull(10) ? null : r.GetString(10),
        Attempt = r.GetInt32(11),
        EscalatedFrom = r.IsDBNull(12) ? null : r.GetString(12),
        Effort = r.IsDBNull(13) ? null : r.GetString(13),
        EffortIsDefault = r.GetInt64(14) != 0,
        Streaming = r.GetInt64(15) != 0,
        ShadowPairId = r.IsDBNull(16) ? null : r.GetString(16),
        InputTokens = r.GetInt64(17),
        OutputTokens = r.GetInt64(18),
    };

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
