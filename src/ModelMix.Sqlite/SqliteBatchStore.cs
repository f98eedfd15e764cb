using System.Data.Common;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Ledger;

namespace ModelMix.Batching;

/// <summary>
/// The batch queue in a SQLite file (normally the ledger's own file). Versioned in <c>modelmix_schema_versions</c>
/// under <see cref="Component"/>; writes are serialized on one connection in <c>BEGIN IMMEDIATE</c> transactions.
/// </summary>
public sealed class SqliteBatchStore : SqlBatchStore
{
    /// <summary>The component name in <c>modelmix_schema_versions</c>.</summary>
    public const string Component = "batches";

    private static readonly string[] Migrations =
    [
        // 1: jobs, their items (params kept as the exact bytes to send), and the upstream submissions.
        """
        CREATE TABLE batch_jobs (
            id              TEXT    PRIMARY KEY,
            key_id          TEXT,
            idempotency_key TEXT,
            created_at      INTEGER NOT NULL
        ) STRICT;
        CREATE UNIQUE INDEX ux_batch_jobs_idempotency ON batch_jobs (ifnull(key_id, ''), idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE TABLE batch_items (
            id              TEXT    PRIMARY KEY,
            job_id          TEXT    NOT NULL,
            position        INTEGER NOT NULL,
            custom_id       TEXT    NOT NULL,
            params          BLOB    NOT NULL,
            requested_model TEXT    NOT NULL,
            routed_model    TEXT    NOT NULL,
            policy          TEXT,
            reason          TEXT,
            key_id          TEXT,
            session_id      TEXT,
            task_label      TEXT,
            status          TEXT    NOT NULL,
            submission_id   TEXT,
            result          TEXT,
            queued_at       INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX ix_batch_items_job ON batch_items (job_id, position);
        CREATE INDEX ix_batch_items_queued ON batch_items (queued_at) WHERE status = 'queued';
        CREATE INDEX ix_batch_items_submission ON batch_items (submission_id) WHERE status = 'submitted';
        CREATE TABLE batch_submissions (
            id            TEXT    PRIMARY KEY,
            upstream_id   TEXT    UNIQUE,
            state         TEXT    NOT NULL,
            created_at    INTEGER NOT NULL,
            item_count    INTEGER NOT NULL,
            next_poll_at  INTEGER NOT NULL,
            poll_delay_ms INTEGER NOT NULL
        ) STRICT;
        """,
        // 2: the budget reservation held for a job (JSON of a BudgetReservation), settled when the job ends; when it was canceled.
        """
        ALTER TABLE batch_jobs ADD COLUMN budget_reservation TEXT;
        ALTER TABLE batch_jobs ADD COLUMN canceled_at INTEGER;
        """,
        // 3: fault isolation: faults met since the job last made progress, the latest reason, when its queued requests
        // may be tried again, and when it was quarantined (its unanswered requests errored, never retried automatically).
        // A submission can now also end 'failed' (closed by a quarantine, nothing left to wait for).
        """
        ALTER TABLE batch_jobs ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE batch_jobs ADD COLUMN last_error TEXT;
        ALTER TABLE batch_jobs ADD COLUMN retry_at INTEGER;
        ALTER TABLE batch_jobs ADD COLUMN quarantined_at INTEGER;
        """,
        // 4: a submission whose quarantined requests were charged their worst case is looked at until correct_until for
        // its results, to correct those charges (docs/batch.md, "Correcting the estimates").
        """
        ALTER TABLE batch_submissions ADD COLUMN correct_until INTEGER;
        """,
    ];

    /// <summary>The result stored for a request canceled before it was sent (the API's shape for a canceled result).</summary>
    public const string CanceledResult = BatchIds.CanceledResult;

    // SQLite has no FILTER on count(*) here; submissions list in creation order, submitted items in storage order.
    private static readonly BatchDialect Dialect = new(condition => $"count(CASE WHEN {condition} THEN 1 END)", string.Empty, "created_at");

    private static readonly string[] ItemParameters = ["$id", "$job", "$pos", "$cid", "$params", "$req", "$routed", "$policy", "$reason", "$key", "$session", "$task", "$t"];

    private readonly SqliteStoreFile _file;
    private readonly SqliteWriterGate _gate; // the write connection and its lock (Budgets/SqliteWriterGate.cs)
    private bool _migrated;

    /// <summary>Creates a store over the SQLite file at <paramref name="path"/> (created when missing).</summary>
    public SqliteBatchStore(string path)
        : base(Dialect)
    {
        _file = new SqliteStoreFile(path);
        _gate = new SqliteWriterGate(_file, GetType().FullName!);
    }

    /// <summary>The full path of the database file.</summary>
    public string Path => _file.Path;

    /// <inheritdoc />
    public override Task MigrateAsync(CancellationToken cancellationToken = default) =>
        WriteAsync(connection => { SqliteStoreFile.Migrate(connection, Component, Migrations, Path); _migrated = true; return true; }, cancellationToken, migrate: false);

    /// <inheritdoc />
    public override async Task<(BatchJob Job, bool Created)> CreateJobAsync(BatchJobInput input, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var (jobId, created) = await WriteAsync(connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            if (input.IdempotencyKey is { } idempotency)
            {
                using var find = Command(connection, transaction, "SELECT id FROM batch_jobs WHERE ifnull(key_id, '') = ifnull($k, '') AND idempotency_key = $i;");
                find.Parameters.AddWithValue("$k", (object?)input.KeyId ?? DBNull.Value);
                find.Parameters.AddWithValue("$i", idempotency);
                if (find.ExecuteScalar() is string existing)
                {
                    return (existing, false);
                }
            }

            var id = input.Id ?? NewJobId(at);
            var stamp = SqliteLedgerSchema.ToStoredTimestamp(at);
            using (var job = Command(connection, transaction, "INSERT INTO batch_jobs (id, key_id, idempotency_key, created_at, budget_reservation) VALUES ($id, $k, $i, $t, $b);"))
            {
                job.Parameters.AddWithValue("$id", id);
                job.Parameters.AddWithValue("$b", (object?)input.BudgetReservation ?? DBNull.Value);
                job.Parameters.AddWithValue("$k", (object?)input.KeyId ?? DBNull.Value);
                job.Parameters.AddWithValue("$i", (object?)input.IdempotencyKey ?? DBNull.Value);
                job.Parameters.AddWithValue("$t", stamp);
                job.ExecuteNonQuery();
            }

            using var item = Command(connection, transaction, """
                INSERT INTO batch_items (id, job_id, position, custom_id, params, requested_model, routed_model, policy, reason, key_id, session_id, task_label, status, queued_at)
                VALUES ($id, $job, $pos, $cid, $params, $req, $routed, $policy, $reason, $key, $session, $task, 'queued', $t);
                """);
            var p = new Dictionary<string, SqliteParameter>();
            foreach (var name in ItemParameters)
            {
                p[name] = item.Parameters.Add(name, SqliteType.Text);
            }

            p["$params"].SqliteType = SqliteType.Blob;
            for (var i = 0; i < input.Items.Count; i++)
            {
                var entry = input.Items[i];
                p["$id"].Value = LedgerIds.New(at);
                p["$job"].Value = id;
                p["$pos"].Value = i;
                p["$cid"].Value = entry.CustomId;
                p["$params"].Value = entry.Params;
                p["$req"].Value = entry.RequestedModel;
                p["$routed"].Value = entry.RoutedModel;
                p["$policy"].Value = (object?)entry.Policy ?? DBNull.Value;
                p["$reason"].Value = (object?)entry.Reason ?? DBNull.Value;
                p["$key"].Value = (object?)input.KeyId ?? DBNull.Value;
                p["$session"].Value = (object?)input.SessionId ?? DBNull.Value;
                p["$task"].Value = (object?)input.TaskLabel ?? DBNull.Value;
                p["$t"].Value = stamp;
                item.ExecuteNonQuery();
            }

            transaction.Commit();
            return (id, true);
        }, cancellationToken);
        return ((await GetJobAsync(jobId, cancellationToken))!, created);
    }

    /// <summary>A new job id (<c>mmxjob_…</c>), for callers that need it before the job is created.</summary>
    public static string NewJobId(DateTimeOffset at) => BatchIds.NewJobId(at);

    /// <inheritdoc />
    public override async Task<(BatchSubmission Submission, IReadOnlyList<BatchItem> Items)?> BeginSubmissionAsync(string submissionId, int maxCount, long maxParamsBytes, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        var ids = await WriteAsync(connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            var taken = new List<string>();
            using (var read = Command(connection, transaction, """
                SELECT i.id, length(i.params), i.job_id, j.failures FROM batch_items i JOIN batch_jobs j ON j.id = i.job_id
                WHERE i.status = 'queued' AND j.canceled_at IS NULL AND j.quarantined_at IS NULL AND (j.retry_at IS NULL OR j.retry_at <= $at)
                ORDER BY i.queued_at, i.job_id, i.position LIMIT $n;
                """))
            {
                read.Parameters.AddWithValue("$n", maxCount);
                read.Parameters.AddWithValue("$at", SqliteLedgerSchema.ToStoredTimestamp(at));
                using var reader = read.ExecuteReader();
                var picker = new SubmissionPicker(maxParamsBytes);
                while (reader.Read() && picker.Offer(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetInt32(3)))
                {
                }

                taken.AddRange(picker.Taken);
            }

            if (taken.Count == 0)
            {
                return taken;
            }

            using (var insert = Command(connection, transaction, "INSERT INTO batch_submissions (id, state, created_at, item_count, next_poll_at, poll_delay_ms) VALUES ($id, 'submitting', $t, $n, $t, 0);"))
            {
                insert.Parameters.AddWithValue("$id", submissionId);
                insert.Parameters.AddWithValue("$t", SqliteLedgerSchema.ToStoredTimestamp(at));
                insert.Parameters.AddWithValue("$n", taken.Count);
                insert.ExecuteNonQuery();
            }

            using var update = Command(connection, transaction, "UPDATE batch_items SET status = 'submitted', submission_id = $s WHERE id = $id;");
            update.Parameters.AddWithValue("$s", submissionId);
            var idParameter = update.Parameters.Add("$id", SqliteType.Text);
            foreach (var id in taken)
            {
                idParameter.Value = id;
                update.ExecuteNonQuery();
            }

            transaction.Commit();
            return taken;
        }, cancellationToken);
        if (ids.Count == 0)
        {
            return null;
        }

        var items = await GetSubmittedItemsAsync(submissionId, cancellationToken);
        var submission = new BatchSubmission { Id = submissionId, State = "submitting", CreatedAt = at, Count = ids.Count, NextPollAt = at, PollDelay = TimeSpan.Zero };
        return (submission, items);
    }

    /// <inheritdoc />
    public override async Task<BatchCancellation?> CancelJobAsync(string jobId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        var outcome = await WriteAsync(connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using (var mark = Command(connection, transaction, "UPDATE batch_jobs SET canceled_at = coalesce(canceled_at, $t) WHERE id = $job;"))
            {
                mark.Parameters.AddWithValue("$t", SqliteLedgerSchema.ToStoredTimestamp(at));
                mark.Parameters.AddWithValue("$job", jobId);
                if (mark.ExecuteNonQuery() == 0)
                {
                    return ((List<string> Ids, List<(string, string)> Upstream)?)null;
                }
            }

            var ids = new List<string>();
            using (var read = Command(connection, transaction, "SELECT id FROM batch_items WHERE job_id = $job AND status = 'queued';"))
            {
                read.Parameters.AddWithValue("$job", jobId);
                using var reader = read.ExecuteReader();
                while (reader.Read())
                {
                    ids.Add(reader.GetString(0));
                }
            }

            using (var cancel = Command(connection, transaction, "UPDATE batch_items SET status = 'canceled', result = $r WHERE job_id = $job AND status = 'queued';"))
            {
                cancel.Parameters.AddWithValue("$job", jobId);
                cancel.Parameters.AddWithValue("$r", CanceledResult);
                cancel.ExecuteNonQuery();
            }

            // Upstream batches holding this job's requests, and only requests of canceled jobs: canceling them cancels nothing else.
            var upstream = new List<(string, string)>();
            using (var open = Command(connection, transaction, """
                SELECT s.id, s.upstream_id FROM batch_submissions s
                WHERE s.state = 'in_progress' AND s.upstream_id IS NOT NULL
                  AND EXISTS (SELECT 1 FROM batch_items i WHERE i.submission_id = s.id AND i.status = 'submitted' AND i.job_id = $job)
                  AND NOT EXISTS (SELECT 1 FROM batch_items i JOIN batch_jobs j ON j.id = i.job_id
                                  WHERE i.submission_id = s.id AND i.status = 'submitted' AND j.canceled_at IS NULL);
                """))
            {
                open.Parameters.AddWithValue("$job", jobId);
                using var reader = open.ExecuteReader();
                while (reader.Read())
                {
                    upstream.Add((reader.GetString(0), reader.GetString(1)));
                }
            }

            transaction.Commit();
            return (ids, upstream);
        }, cancellationToken);
        if (outcome is not { } done)
        {
            return null;
        }

        return new BatchCancellation(await GetItemsAsync(jobId, done.Ids.ToHashSet(StringComparer.Ordinal), cancellationToken), done.Upstream);
    }

    /// <inheritdoc />
    public override async Task CompleteSubmissionAsync(string submissionId, IReadOnlyList<BatchResultLine> results, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(results);
        await WriteAsync(connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using (var update = Command(connection, transaction, "UPDATE batch_items SET status = $st, result = $r WHERE id = $id AND submission_id = $s AND status = 'submitted';"))
            {
                update.Parameters.AddWithValue("$s", submissionId);
                var id = update.Parameters.Add("$id", SqliteType.Text);
                var status = update.Parameters.Add("$st", SqliteType.Text);
                var result = update.Parameters.Add("$r", SqliteType.Text);
                foreach (var line in results)
                {
                    id.Value = line.ItemId;
                    status.Value = line.Status;
                    result.Value = line.Result;
                    update.ExecuteNonQuery();
                }
            }

            // An item with no result line was never processed upstream: back to the queue, to be sent once more.
            SqliteStoreFile.Execute(connection, transaction, "UPDATE batch_items SET status = 'queued', submission_id = NULL WHERE submission_id = '" + submissionId.Replace("'", "''", StringComparison.Ordinal) + "' AND status = 'submitted';");
            using (var done = Command(connection, transaction, "UPDATE batch_submissions SET state = 'collected' WHERE id = $s AND state <> 'failed';"))
            {
                done.Parameters.AddWithValue("$s", submissionId);
                done.ExecuteNonQuery();
            }

            transaction.Commit();
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public override async Task<IReadOnlyList<(string JobId, int Failures)>> RecordFaultAsync(IReadOnlyCollection<string> jobIds, BatchFault fault, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobIds);
        ArgumentNullException.ThrowIfNull(fault);
        if (jobIds.Count == 0)
        {
            return [];
        }

        return await WriteAsync(connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using var read = Command(connection, transaction, "SELECT failures FROM batch_jobs WHERE id = $id;");
            var readId = read.Parameters.Add("$id", SqliteType.Text);
            using var update = Command(connection, transaction, fault.Counted
                ? "UPDATE batch_jobs SET failures = $f, last_error = $e, retry_at = $r WHERE id = $id;"
                : "UPDATE batch_jobs SET last_error = $e WHERE id = $id;");
            var id = update.Parameters.Add("$id", SqliteType.Text);
            var failuresParameter = update.Parameters.Add("$f", SqliteType.Integer);
            var retry = update.Parameters.Add("$r", SqliteType.Integer);
            update.Parameters.AddWithValue("$e", fault.Reason);
            var counts = new List<(string, int)>(jobIds.Count);
            foreach (var jobId in jobIds.Distinct(StringComparer.Ordinal))
            {
                readId.Value = jobId;
                if (read.ExecuteScalar() is not long current)
                {
                    continue;
                }

                var failures = (int)current + (fault.Counted ? 1 : 0);
                id.Value = jobId;
                failuresParameter.Value = failures;
                retry.Value = SqliteLedgerSchema.ToStoredTimestamp(fault.At + fault.RetryDelay(failures));
                update.ExecuteNonQuery();
                counts.Add((jobId, failures));
            }

            transaction.Commit();
            return counts;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public override async Task ResetFailuresAsync(IReadOnlyCollection<string> jobIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobIds);
        if (jobIds.Count == 0)
        {
            return;
        }

        await WriteAsync(connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using var update = Command(connection, transaction, "UPDATE batch_jobs SET failures = 0, retry_at = NULL WHERE id = $id AND quarantined_at IS NULL AND (failures <> 0 OR retry_at IS NOT NULL);");
            var id = update.Parameters.Add("$id", SqliteType.Text);
            foreach (var jobId in jobIds)
            {
                id.Value = jobId;
                update.ExecuteNonQuery();
            }

            transaction.Commit();
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public override async Task<BatchQuarantine?> QuarantineJobAsync(string jobId, string reason, string result, string? submissionId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentNullException.ThrowIfNull(reason);
        ArgumentNullException.ThrowIfNull(result);
        var outcome = await WriteAsync(connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using (var mark = Command(connection, transaction, "UPDATE batch_jobs SET quarantined_at = coalesce(quarantined_at, $t), last_error = $e, retry_at = NULL WHERE id = $job;"))
            {
                mark.Parameters.AddWithValue("$t", SqliteLedgerSchema.ToStoredTimestamp(at));
                mark.Parameters.AddWithValue("$e", reason);
                mark.Parameters.AddWithValue("$job", jobId);
                if (mark.ExecuteNonQuery() == 0)
                {
                    return ((List<string> Ids, List<(string, string?)> Closed)?)null;
                }
            }

            const string Mine = "job_id = $job AND (status = 'queued' OR (status = 'submitted' AND submission_id = $s))";
            var ids = new List<string>();
            using (var read = Command(connection, transaction, $"SELECT id FROM batch_items WHERE {Mine};"))
            {
                read.Parameters.AddWithValue("$job", jobId);
                read.Parameters.AddWithValue("$s", (object?)submissionId ?? DBNull.Value);
                using var reader = read.ExecuteReader();
                while (reader.Read())
                {
                    ids.Add(reader.GetString(0));
                }
            }

            using (var error = Command(connection, transaction, $"UPDATE batch_items SET status = 'errored', result = $r WHERE {Mine};"))
            {
                error.Parameters.AddWithValue("$job", jobId);
                error.Parameters.AddWithValue("$s", (object?)submissionId ?? DBNull.Value);
                error.Parameters.AddWithValue("$r", result);
                error.ExecuteNonQuery();
            }

            var closed = new List<(string, string?)>();
            if (submissionId is not null)
            {
                using var close = Command(connection, transaction, """
                    UPDATE batch_submissions SET state = 'failed'
                    WHERE id = $s AND state IN ('submitting', 'in_progress')
                      AND NOT EXISTS (SELECT 1 FROM batch_items WHERE submission_id = $s AND status = 'submitted')
                    RETURNING upstream_id;
                    """);
                close.Parameters.AddWithValue("$s", submissionId);
                using var reader = close.ExecuteReader();
                while (reader.Read())
                {
                    closed.Add((submissionId, reader.IsDBNull(0) ? null : reader.GetString(0)));
                }
            }

            transaction.Commit();
            return (ids, closed);
        }, cancellationToken);
        if (outcome is not { } done)
        {
            return null;
        }

        return new BatchQuarantine(await GetItemsAsync(jobId, done.Ids.ToHashSet(StringComparer.Ordinal), cancellationToken), done.Closed);
    }

    /// <summary>Closes the write connection.</summary>
    public override ValueTask DisposeAsync() => _gate.DisposeAsync();

    private protected override Task ExecuteAsync(string sql, (string Name, object Value)[] parameters, CancellationToken cancellationToken) =>
        WriteAsync(connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using var command = Command(connection, transaction, sql);
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value);
            }

            command.ExecuteNonQuery();
            transaction.Commit();
            return true;
        }, cancellationToken);

    private protected override async Task<DbConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        await EnsureMigratedAsync(cancellationToken);
        return await _file.OpenReaderAsync(cancellationToken);
    }

    private async Task EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        if (!_migrated)
        {
            await MigrateAsync(cancellationToken);
        }
    }

    private async Task<T> WriteAsync<T>(Func<SqliteConnection, T> action, CancellationToken cancellationToken, bool migrate = true)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        if (migrate)
        {
            await EnsureMigratedAsync(cancellationToken);
        }

        using var lease = await _gate.EnterAsync(cancellationToken); // off I/O threads: the SQLite work below is synchronous
        return action(lease.Connection);
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }
}
