using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ModelMix.Ledger;

/// <summary>
/// The intent insert (schema step 8's narrow <c>ledger_intents</c>), prepared once on the writer connection and bound
/// through SQLitePCL directly, as <see cref="SqliteLedgerInsert"/> is: one reused buffer, no managed allocation per row.
/// The intent transaction's <c>BEGIN IMMEDIATE</c>/<c>COMMIT</c>/<c>ROLLBACK</c> and the completion's delete are prepared
/// here too, so an intent commit on the hot path prepares nothing and allocates nothing (Microsoft.Data.Sqlite's
/// <c>BeginTransaction</c> and <c>Commit</c> prepare and finalize their statement each time; docs/performance.md,
/// "Attempt intent journal: where the cost went").
/// </summary>
internal sealed class SqliteIntentInsert : IDisposable
{
    /// <summary><see cref="SqliteLedgerSchema.IntentColumns"/> qualified with the alias <c>i</c>, for reads.</summary>
    public static readonly string QualifiedColumns = LedgerRowSql.QualifiedIntentColumns;

    private static readonly string Sql =
        $"INSERT INTO ledger_intents ({SqliteLedgerSchema.IntentColumns}) VALUES ({string.Join(", ", Enumerable.Range(1, 19).Select(i => "?" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)))});";

    private readonly SqliteConnection _connection;
    private readonly sqlite3_stmt _statement;
    private readonly sqlite3_stmt _begin;
    private readonly sqlite3_stmt _commit;
    private readonly sqlite3_stmt _rollback;
    private readonly sqlite3_stmt _complete;
    private byte[] _buffer = new byte[256];

    public SqliteIntentInsert(SqliteConnection connection)
    {
        _connection = connection;
        var db = connection.Handle ?? throw new InvalidOperationException("The ledger's write connection is not open.");
        _statement = Prepare(db, Sql);
        _begin = Prepare(db, "BEGIN IMMEDIATE;");
        _commit = Prepare(db, "COMMIT;");
        _rollback = Prepare(db, "ROLLBACK;");
        _complete = Prepare(db, "DELETE FROM ledger_intents WHERE id = ?1;");
    }

    /// <summary>Begins the intent transaction (<c>BEGIN IMMEDIATE</c>: the write lock now, as <c>BeginTransaction(deferred: false)</c>).</summary>
    public void Begin() => Step(_begin);

    /// <summary>
    /// <see cref="Begin"/>, unless SQLite's write lock is held by another connection (<c>SQLITE_BUSY</c> once the busy
    /// timeout ran out; the caller sets it to zero to never wait): then false and no transaction.
    /// </summary>
    public bool TryBegin()
    {
        try
        {
            var rc = raw.sqlite3_step(_begin);
            if (rc == raw.SQLITE_BUSY)
            {
                return false;
            }

            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _connection.Handle);
            }

            return true;
        }
        finally
        {
            raw.sqlite3_reset(_begin);
        }
    }

    /// <summary>Commits the transaction <see cref="Begin"/> started: in the WAL (the OS has it) when this returns.</summary>
    public void Commit() => Step(_commit);

    /// <summary>Rolls back the transaction <see cref="Begin"/> started, if it is still open (errors ignored: the caller resets the connection).</summary>
    public void Rollback()
    {
        if (raw.sqlite3_get_autocommit(_connection.Handle) == 0)
        {
            raw.sqlite3_step(_rollback);
        }

        raw.sqlite3_reset(_rollback);
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

    /// <summary>Inserts <paramref name="intent"/> of <paramref name="instanceId"/>.</summary>
    public void Execute(LedgerIntent intent, string instanceId)
    {
        var s = _statement;
        try
        {
            Text(1, intent.Id);
            Check(raw.sqlite3_bind_int64(s, 2, SqliteLedgerSchema.ToStoredTimestamp(intent.CreatedAt)));
            Text(3, instanceId);
            Text(4, intent.ReservationId);
            Text(5, intent.RequestId);
            Text(6, intent.KeyId);
            Text(7, intent.SessionId);
            Text(8, intent.TaskLabel);
            Text(9, intent.RequestedModel);
            Text(10, intent.RoutedModel);
            Text(11, intent.Policy);
            Check(raw.sqlite3_bind_int64(s, 12, intent.Attempt));
            Text(13, intent.EscalatedFrom);
            Text(14, intent.Effort);
            Check(raw.sqlite3_bind_int64(s, 15, intent.EffortIsDefault ? 1 : 0));
            Check(raw.sqlite3_bind_int64(s, 16, intent.Streaming ? 1 : 0));
            Text(17, intent.ShadowPairId);
            Check(raw.sqlite3_bind_int64(s, 18, intent.InputTokens));
            Check(raw.sqlite3_bind_int64(s, 19, intent.OutputTokens));
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

    public void Dispose()
    {
        _statement.Dispose();
        _begin.Dispose();
        _commit.Dispose();
        _rollback.Dispose();
        _complete.Dispose();
    }

    private static sqlite3_stmt Prepare(sqlite3 db, string sql)
    {
        var rc = raw.sqlite3_prepare_v2(db, sql, out var statement);
        SqliteException.ThrowExceptionForRC(rc, db);
        return statement;
    }

    private void Step(sqlite3_stmt statement)
    {
        try
        {
            var rc = raw.sqlite3_step(statement);
            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _connection.Handle);
            }
        }
        finally
        {
            raw.sqlite3_reset(statement);
        }
    }

    private void Text(int index, string? value) => Text(_statement, index, value);

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
