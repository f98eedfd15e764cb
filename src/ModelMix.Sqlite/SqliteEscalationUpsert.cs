using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ModelMix.Ledger;

/// <summary>
/// The SQLite writer's side of the escalated-request rollup (<see cref="LedgerEscalationRollup"/>): the escalation rows a
/// batch inserted are noted as they are inserted, and at the batch's rollups each of their requests' earlier escalation
/// hours is read (an index lookup on <c>request_id</c>, rows stored before the batch's first <c>seq</c>), each new hour of
/// a request adds one to that hour's count, and a request with escalations in two hours or more has its hours recorded.
/// Runs under the writer's lock, in the batch's transaction.
/// </summary>
internal sealed class SqliteEscalationUpsert : IDisposable
{
    private readonly SqliteSpanBinder _bind;
    private readonly SqliteConnection _connection;
    private readonly Dictionary<string, HashSet<long>> _batch = new(StringComparer.Ordinal); // request → hours of its rows in the batch
    private readonly Dictionary<long, long> _newRequests = [];
    private readonly HashSet<long> _prior = [];
    private sqlite3_stmt? _priorHours, _addHour, _addSpan; // prepared at the first batch with an escalation
    private long _firstSeq = long.MaxValue;

    public SqliteEscalationUpsert(SqliteConnection connection, SqliteSpanBinder bind)
    {
        _connection = connection;
        _bind = bind;
    }

    /// <summary>Notes a row the batch inserted (<paramref name="seq"/>: its rowid).</summary>
    public void Add(LedgerRecord record, long storedTimestamp, long seq)
    {
        _firstSeq = Math.Min(_firstSeq, seq);
        if (!LedgerEscalationRollup.IsEscalation(record))
        {
            return;
        }

        if (!_batch.TryGetValue(record.RequestId, out var hours))
        {
            _batch[record.RequestId] = hours = [];
        }

        hours.Add(storedTimestamp - (storedTimestamp % LedgerRollupSql.HourTicks));
    }

    /// <summary>Adds the noted escalation rows to the escalated-request tables, then forgets them.</summary>
    public void Write()
    {
        if (_batch.Count != 0)
        {
            var b = _bind;
            var prior = _priorHours ??= b.Prepare(LedgerEscalationRollup.SqlitePriorHoursSql, 2, "The escalation lookup");
            var addHour = _addHour ??= b.Prepare(LedgerEscalationRollup.SqliteAddHourSql, 2, "The escalated-request upsert");
            var addSpan = _addSpan ??= b.Prepare(LedgerEscalationRollup.SqliteAddSpanSql, 2, "The escalation span insert");
            foreach (var (request, hours) in _batch)
            {
                _prior.Clear();
                try
                {
                    b.Text(prior, 1, request);
                    b.Integer(prior, 2, _firstSeq);
                    int rc;
                    while ((rc = raw.sqlite3_step(prior)) == raw.SQLITE_ROW)
                    {
                        _prior.Add(raw.sqlite3_column_int64(prior, 0));
                    }

                    if (rc != raw.SQLITE_DONE)
                    {
                        SqliteException.ThrowExceptionForRC(rc, _connection.Handle);
                    }
                }
                finally
                {
                    SqliteSpanBinder.Reset(prior);
                }

                foreach (var hour in hours)
                {
                    if (!_prior.Contains(hour))
                    {
                        _newRequests[hour] = _newRequests.GetValueOrDefault(hour) + 1;
                    }
                }

                _prior.UnionWith(hours);
                if (_prior.Count > 1)
                {
                    foreach (var hour in _prior)
                    {
                        Execute(addSpan, hour, request, 0);
                    }
                }
            }

            foreach (var (hour, requests) in _newRequests)
            {
                Execute(addHour, hour, null, requests);
            }
        }

        Clear();
    }

    /// <summary>Forgets the noted rows (a batch that rolled back, or after <see cref="Write"/>).</summary>
    public void Clear()
    {
        _batch.Clear();
        _newRequests.Clear();
        _firstSeq = long.MaxValue;
    }

    /// <summary>Runs <paramref name="s"/> with the hour and then the request id, or (none) the number of requests.</summary>
    private void Execute(sqlite3_stmt s, long hour, string? request, long requests)
    {
        try
        {
            _bind.Integer(s, 1, hour);
            if (request is null)
            {
                _bind.Integer(s, 2, requests);
            }
            else
            {
                _bind.Text(s, 2, request);
            }

            _bind.Step(s);
        }
        finally
        {
            SqliteSpanBinder.Reset(s);
        }
    }

    public void Dispose()
    {
        _priorHours?.Dispose();
        _addHour?.Dispose();
        _addSpan?.Dispose();
    }
}
