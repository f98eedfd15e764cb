using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ModelMix.Ledger;

/// <summary>
/// The intent insert (schema step 8's narrow <c>ledger_intents</c>), prepared once on the writer connection and bound
/// through SQLitePCL directly, as <see cref="SqliteLedgerInsert"/> is: one reused buffer, no managed allocation per row.
/// </summary>
internal sealed class SqliteIntentInsert : IDisposable
{
    /// <summary><see cref="SqliteLedgerSchema.IntentColumns"/> qualified with the alias <c>i</c>, for reads.</summary>
    public static readonly string QualifiedColumns = LedgerRowSql.QualifiedIntentColumns;

    private static readonly string Sql =
        $"INSERT INTO ledger_intents ({SqliteLedgerSchema.IntentColumns}) VALUES ({string.Join(", ", Enumerable.Range(1, 19).Select(i => "?" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)))});";

    private readonly SqliteConnection _connection;
    private readonly sqlite3_stmt _statement;
    private byte[] _buffer = new byte[256];

    public SqliteIntentInsert(SqliteConnection connection)
    {
        _connection = connection;
        var db = connection.Handle ?? throw new InvalidOperationException("The ledger's write connection is not open.");
        var rc = raw.sqlite3_prepare_v2(db, Sql, out _statement);
        SqliteException.ThrowExceptionForRC(rc, db);
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

    public void Dispose() => _statement.Dispose();

    private void Text(int index, string? value)
    {
        if (value is null)
        {
            Check(raw.sqlite3_bind_null(_statement, index));
            return;
        }

        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max > _buffer.Length)
        {
            _buffer = new byte[Math.Max(max, _buffer.Length * 2)];
        }

        var length = Encoding.UTF8.GetBytes(value, _buffer);
        Check(raw.sqlite3_bind_text(_statement, index, _buffer.AsSpan(0, length)));
    }

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _connection.Handle);
        }
    }
}
