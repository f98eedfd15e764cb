using SQLitePCL;

namespace ModelMix.Ledger;

/// <summary>
/// The writer's rollup statements (<see cref="LedgerRollupSql.UpsertRow"/>, hourly and daily, and
/// <see cref="LedgerRollupSql.SessionUpsertRow"/>), prepared once on the
/// writer connection and bound through the ledger insert's <see cref="SqliteSpanBinder"/>: a batch's
/// rows, summed in memory by <see cref="LedgerRollupBatch"/>, are merged into the stored rollups with one execution
/// per row and no managed allocation.
/// </summary>
internal sealed class SqliteRollupUpsert : IDisposable
{
    private readonly SqliteSpanBinder _bind;
    private readonly sqlite3_stmt _hourly;
    private readonly sqlite3_stmt _daily;
    private readonly sqlite3_stmt _sessions;
    private readonly sqlite3_stmt _dayVersion;
    private readonly List<long> _days = [];

    public SqliteRollupUpsert(SqliteSpanBinder bind)
    {
        _bind = bind;
        var columns = LedgerRollupSql.Columns.Length;
        _hourly = bind.Prepare(LedgerRollupSql.UpsertRow(LedgerSqlDialect.Sqlite, daily: false), columns, "The hourly rollup upsert");
        _daily = bind.Prepare(LedgerRollupSql.UpsertRow(LedgerSqlDialect.Sqlite, daily: true), columns, "The daily rollup upsert");
        _sessions = bind.Prepare(LedgerRollupSql.SessionUpsertRow(LedgerSqlDialect.Sqlite), 7, "The per-session upsert");
        _dayVersion = bind.Prepare(LedgerDayVersions.BumpOne, 1, "The day version bump");
    }

    /// <summary>Merges <paramref name="batch"/>'s hourly, daily and per-session rows into the rollups, in the transaction under way.</summary>
    public void Write(LedgerRollupBatch batch)
    {
        foreach (var (key, sums) in batch.Hourly)
        {
            Execute(_hourly, key, sums);
        }

        _days.Clear();
        foreach (var (key, sums) in batch.Daily)
        {
            Execute(_daily, key, sums);
            if (!_days.Contains(key.Hour))
            {
                _days.Add(key.Hour);
            }
        }

        // Each day the batch wrote to gets a new version (LedgerDayVersions): a cached audit of it is read again.
        foreach (var day in _days)
        {
            try
            {
                _bind.Integer(_dayVersion, 1, day);
                _bind.Step(_dayVersion);
            }
            finally
            {
                SqliteSpanBinder.Reset(_dayVersion);
            }
        }

        var s = _sessions;
        foreach (var (key, sums) in batch.Sessions)
        {
            try
            {
                _bind.Integer(s, 1, key.Hour);
                _bind.Text(s, 2, key.KeyId);
                _bind.Text(s, 3, key.SessionId);
                _bind.Integer(s, 4, sums.Calls);
                _bind.Decimal(s, 5, sums.CostTotal);
                _bind.Integer(s, 6, sums.FirstTimestamp);
                _bind.Integer(s, 7, sums.LastTimestamp);
                _bind.Step(s);
            }
            finally
            {
                SqliteSpanBinder.Reset(s);
            }
        }
    }

    private void Execute(sqlite3_stmt s, in LedgerRollupBatch.Key key, LedgerRollupBatch.Sums sums)
    {
        var b = _bind;
        try
        {
            // LedgerRollupSql.Columns order: the dimensions, the integer sums, the money sums, minimums, maximums, overrun.
            var i = 1;
            b.Integer(s, i++, key.Hour);
            b.Text(s, i++, key.KeyId);
            b.Text(s, i++, key.TaskLabel);
            b.Text(s, i++, key.Policy);
            b.Text(s, i++, key.RoutedModel);
            b.Text(s, i++, key.ResponseModel);
            b.Text(s, i++, key.Effort);
            b.Text(s, i++, key.Status);
            b.Integer(s, i++, key.AttemptKind);
            b.Text(s, i++, key.EscalatedFrom);
            b.Text(s, i++, key.ServiceTier);
            b.Text(s, i++, key.Speed);
            b.Text(s, i++, key.InferenceGeo);
            b.Integer(s, i++, key.Priced);
            b.Integer(s, i++, key.HasTokens);
            b.Integer(s, i++, key.EffortSent);
            foreach (var n in sums.Integers)
            {
                b.Integer(s, i++, n);
            }

            var money = sums.Money;
            for (var m = 0; m < money.Length - 1; m++)
            {
                b.Decimal(s, i++, money[m]);
            }

            b.Integer(s, i++, sums.FirstTimestamp);
            b.Integer(s, i++, sums.MinPromptTokens);
            b.Integer(s, i++, sums.LastTimestamp);
            b.Integer(s, i++, sums.MaxPromptTokens);
            b.Integer(s, i++, sums.MaxOutputTokens);
            b.Decimal(s, i, money[^1]); // overrun_usd, the last column
            b.Step(s);
        }
        finally
        {
            SqliteSpanBinder.Reset(s);
        }
    }

    public void Dispose()
    {
        _hourly.Dispose();
        _daily.Dispose();
        _sessions.Dispose();
        _dayVersion.Dispose();
    }
}
