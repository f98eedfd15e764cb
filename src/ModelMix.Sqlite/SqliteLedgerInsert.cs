using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ModelMix.Ledger;

/// <summary>
/// The ledger's insert statement, prepared once on the writer connection and bound through SQLitePCL directly.
/// </summary>
/// <remarks>
/// Microsoft.Data.Sqlite allocates a binder object per parameter and a UTF-8 copy per string on every execution
/// (≈ 4 KB per record for the 34 columns it had then); at proxy rates that was a fifth of the ledger writer's cost. Here strings
/// and decimals are encoded into one reused buffer and bound as spans (SQLite copies them, SQLITE_TRANSIENT), so a
/// record is written without managed allocations. The stored values are exactly those of the parameterised command
/// it replaces: the same text codes, the same invariant-culture decimal text, the same integers.
/// </remarks>
internal sealed class SqliteLedgerInsert : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly sqlite3_stmt _statement;
    private readonly LedgerRollupBatch _rollups = new();
    private SqliteRollupUpsert? _rollupUpsert; // prepared at the first batch's rollups (an older schema has no rollup tables)
    private sqlite3_stmt? _completeIntent; // prepared on first use: a database from before schema step 8 has no intents table
    private sqlite3_stmt? _anyIntent; // likewise
    private bool? _tableIntents; // whether the intents table held a row when this batch first asked (null: not asked yet)
    private readonly SqliteSpanBinder _bind;
    private readonly SqliteEscalationUpsert _escalations;

    public SqliteLedgerInsert(SqliteConnection connection)
    {
        _connection = connection;
        _bind = new SqliteSpanBinder(connection);
        _escalations = new SqliteEscalationUpsert(connection, _bind);
        _statement = _bind.Prepare(SqliteLedgerSchema.InsertSql, SqliteLedgerSchema.Columns.Length, "The ledger insert");
    }

    /// <summary>
    /// Deletes the table intent <paramref name="id"/> (if any) in the transaction under way: its record is in it. The
    /// intents table (schema step 8's narrow <c>ledger_intents</c>) is only read since intents moved to append-only files
    /// (<see cref="SqliteIntentFiles"/>), but a batch still deletes the intents a process of an earlier version wrote.
    /// </summary>
    public void CompleteIntent(string id)
    {
        if (!TableHasIntents())
        {
            return;
        }

        var statement = _completeIntent ??= _bind.Prepare("DELETE FROM ledger_intents WHERE id = ?1;", 1, "The intent delete");
        try
        {
            _bind.Text(statement, 1, id);
            _bind.Step(statement);
        }
        finally
        {
            SqliteSpanBinder.Reset(statement);
        }
    }

    /// <summary>Inserts <paramref name="r"/> (a record whose id is already stored is skipped).</summary>
    /// <returns>Whether a row was inserted (false: its id was already stored).</returns>
    public bool Execute(LedgerRecord r)
    {
        var s = _statement;
        try
        {
            var usage = r.Usage;
            Text(1, r.Id);
            Check(raw.sqlite3_bind_int64(s, 2, SqliteLedgerSchema.ToStoredTimestamp(r.Timestamp)));
            Text(3, r.RequestId);
            Text(4, r.UpstreamRequestId);
            Text(5, r.SessionId);
            Text(6, r.KeyId);
            Text(7, r.TaskLabel);
            Text(8, r.RequestedModel);
            Text(9, r.RoutedModel);
            Text(10, r.ResponseModel);
            Text(11, r.Policy);
            Text(12, r.Reason);
            Check(raw.sqlite3_bind_int64(s, 13, r.Attempt));
            Text(14, r.EscalatedFrom);
            Check(raw.sqlite3_bind_int64(s, 15, usage.InputTokens));
            Check(raw.sqlite3_bind_int64(s, 16, usage.OutputTokens));
            Check(raw.sqlite3_bind_int64(s, 17, usage.CacheWrite5mTokens));
            Check(raw.sqlite3_bind_int64(s, 18, usage.CacheWrite1hTokens));
            Check(raw.sqlite3_bind_int64(s, 19, usage.CacheReadTokens));
            Text(20, SqliteLedgerSchema.ToCode(usage.ServiceTier));
            Text(21, SqliteLedgerSchema.ToCode(usage.Speed));
            Text(22, usage.InferenceGeo);
            if (r.Cost is { } cost)
            {
                Decimal(23, cost.Input);
                Decimal(24, cost.Output);
                Decimal(25, cost.CacheWrite5m);
                Decimal(26, cost.CacheWrite1h);
                Decimal(27, cost.CacheRead);
                Decimal(28, cost.Total);
            }
            else
            {
                for (var i = 23; i <= 28; i++)
                {
                    Check(raw.sqlite3_bind_null(s, i));
                }
            }

            Check(raw.sqlite3_bind_int64(s, 29, r.LatencyMs));
            Check(raw.sqlite3_bind_int64(s, 30, r.Streaming ? 1 : 0));
            Text(31, SqliteLedgerSchema.ToCode(r.Status));
            Check(raw.sqlite3_bind_int64(s, 32, r.HttpStatus));
            Text(33, r.ErrorType);
            Text(34, r.ShadowPairId);
            Text(35, r.Effort);
            Check(raw.sqlite3_bind_int64(s, 36, r.EffortIsDefault ? 1 : 0));
            Check(raw.sqlite3_bind_int64(s, 37, r.ThinkingBlocksDropped));
            Check(raw.sqlite3_bind_int64(s, 38, usage.WebSearchRequests));
            Check(raw.sqlite3_bind_int64(s, 39, usage.WebFetchRequests));
            if (r.Cost is { } fees)
            {
                Decimal(40, fees.ServerTools);
            }
            else
            {
                Check(raw.sqlite3_bind_null(s, 40));
            }
            Check(raw.sqlite3_bind_int64(s, 41, r.ClientDisconnected ? 1 : 0));
            Check(raw.sqlite3_bind_int64(s, 42, r.UsageEstimated ? 1 : 0));
            if (r.OverrunUsd is { } overrun)
            {
                Decimal(43, overrun);
            }
            else
            {
                Check(raw.sqlite3_bind_null(s, 43));
            }

            _bind.Step(s);
            var inserted = raw.sqlite3_changes(_connection.Handle) == 1;
            if (inserted)
            {
                _rollups.Add(r); // a row skipped as already stored is never counted again
                _escalations.Add(r, SqliteLedgerSchema.ToStoredTimestamp(r.Timestamp), raw.sqlite3_last_insert_rowid(_connection.Handle));
            }

            return inserted;
        }
        finally
        {
            SqliteSpanBinder.Reset(s);
        }
    }

    /// <summary>Starts a batch: forgets the rollup rows of any earlier (committed or rolled back) batch, and whether the intents table held any.</summary>
    public void StartBatch()
    {
        _rollups.Clear();
        _escalations.Clear();
        _tableIntents = null;
    }

    /// <summary>
    /// Whether the intents table holds any row, asked once per batch: nearly always it is empty (only a process of an
    /// earlier version writes there), and then a batch skips the per-record delete. The batch's transaction is
    /// immediate (it holds the database's write lock), so no other process can add one before it commits.
    /// </summary>
    private bool TableHasIntents()
    {
        if (_tableIntents is { } known)
        {
            return known;
        }

        var statement = _anyIntent ??= _bind.Prepare("SELECT EXISTS (SELECT 1 FROM ledger_intents);", 0, "The intents check");
        try
        {
            var rc = raw.sqlite3_step(statement);
            if (rc != raw.SQLITE_ROW)
            {
                _bind.Check(rc);
            }

            var any = raw.sqlite3_column_int64(statement, 0) != 0;
            _tableIntents = any;
            return any;
        }
        finally
        {
            SqliteSpanBinder.Reset(statement);
        }
    }

    /// <summary>
    /// Adds the rows this batch inserted to the hourly and daily rollups (docs/ledger.md, "Rollups"), in the transaction
    /// under way: one upsert per hour (and day) × group, from the sums kept as the rows were inserted; and its escalation
    /// rows to the escalated-request count (<see cref="LedgerEscalationRollup"/>).
    /// </summary>
    public void WriteRollups()
    {
        if (!_rollups.IsEmpty)
        {
            (_rollupUpsert ??= new SqliteRollupUpsert(_bind)).Write(_rollups);
            _rollups.Clear();
            _escalations.Write();
        }
    }

    public void Dispose()
    {
        _statement.Dispose();
        _completeIntent?.Dispose();
        _anyIntent?.Dispose();
        _rollupUpsert?.Dispose();
        _escalations.Dispose();
    }

    private void Text(int index, string? value) => _bind.Text(_statement, index, value);

    private void Decimal(int index, decimal value) => _bind.Decimal(_statement, index, value);

    private void Check(int rc) => _bind.Check(rc);
}
