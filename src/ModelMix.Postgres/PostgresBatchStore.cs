using System.Data.Common;
using ModelMix.Batching;
using ModelMix.Ledger;
using Npgsql;
using NpgsqlTypes;

namespace ModelMix.Postgres;

/// <summary>
/// The batch queue in a PostgreSQL database shared by several proxy replicas. Same tables, states and contract as
/// <c>SqliteBatchStore</c> (component <see cref="Component"/> in <c>modelmix_schema_versions</c>); every state
/// change is one transaction. Replicas coordinate through the database itself:
/// <list type="bullet">
/// <item>one batcher works at a time: <see cref="TryAcquireAsync"/> takes a session-level advisory lock on a
/// dedicated connection, released when that connection ends (the replica stopped, crashed or lost the database), so a
/// standby replica takes over (<see cref="BatcherLeadership"/>);</item>
/// <item>as a second guard, queued requests are claimed with <c>FOR UPDATE SKIP LOCKED</c>, so two batchers could
/// never put one request in two submissions, and a submission already collected is never collected again;</item>
/// <item>job writes from any replica (create with an idempotency key, cancel) are safe against each other and the
/// batcher: the idempotency key is a unique index (<c>INSERT … ON CONFLICT DO NOTHING</c>).</item>
/// </list>
/// Timestamps are 100 ns ticks since the Unix epoch, as in SQLite.
/// </summary>
public sealed class PostgresBatchStore : SqlBatchStore, IBatchLeadership
{
    /// <summary>The component name in <c>modelmix_schema_versions</c> (the same as SQLite's).</summary>
    public const string Component = "batches";

    /// <summary>The advisory lock the working batcher holds ("MMXBATCH" in ASCII); per database.</summary>
    public const long LeaderLockKey = 0x4D4D584241544348;


    /// <summary>Migrations in order (append only: never edit a step that has shipped).</summary>
    private static readonly string[] Migrations =
    [
        // 1: the same tables as SQLite's (its migrations 1 and 2), params kept as the exact bytes to send.
        """
        CREATE TABLE batch_jobs (
            id                 text   PRIMARY KEY,
            key_id             text,
            idempotency_key    text,
            created_at         bigint NOT NULL,
            budget_reservation text,
            canceled_at        bigint
        );
        CREATE UNIQUE INDEX ux_batch_jobs_idempotency ON batch_jobs ((coalesce(key_id, '')), idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE TABLE batch_items (
            id              text    PRIMARY KEY,
            job_id          text    NOT NULL REFERENCES batch_jobs (id),
            position        integer NOT NULL,
            custom_id       text    NOT NULL,
            params          bytea   NOT NULL,
            requested_model text    NOT NULL,
            routed_model    text    NOT NULL,
            policy          text,
            reason          text,
            key_id          text,
            session_id      text,
            task_label      text,
            status          text    NOT NULL,
            submission_id   text,
            result          text,
            queued_at       bigint  NOT NULL
        );
        CREATE INDEX ix_batch_items_job ON batch_items (job_id, position);
        CREATE INDEX ix_batch_items_queued ON batch_items (queued_at, job_id, position) WHERE status = 'queued';
        CREATE INDEX ix_batch_items_submission ON batch_items (submission_id) WHERE status = 'submitted';
        CREATE TABLE batch_submissions (
            id            text    PRIMARY KEY,
            upstream_id   text    UNIQUE,
            state         text    NOT NULL,
            created_at    bigint  NOT NULL,
            item_count    integer NOT NULL,
            next_poll_at  bigint  NOT NULL,
            poll_delay_ms bigint  NOT NULL
        );
        """,
        // 2: fault isolation (SQLite's migration 3): faults met since the job last made progress, the latest reason, when
        // its queued requests may be tried again, when it was quarantined. A submission can now also end 'failed'.
        """
        ALTER TABLE batch_jobs
            ADD COLUMN failures       integer NOT NULL DEFAULT 0,
            ADD COLUMN last_error     text,
            ADD COLUMN retry_at       bigint,
            ADD COLUMN quarantined_at bigint;
        """,
        // 3: (SQLite's migration 4) a submission whose quarantined requests were charged their worst case is looked at
        // until correct_until for its results, to correct those charges (docs/batch.md, "Correcting the estimates").
        """
        ALTER TABLE batch_submissions ADD COLUMN correct_until bigint;
        """,
    ];

    // Submissions list in creation order, ties by id; submitted items in queue order.
    private static readonly BatchDialect Dialect = new(condition => $"count(*) FILTER (WHERE {condition})", " ORDER BY queued_at, job_id, position", "created_at, id");

    private readonly PostgresDatabase _database;
    private readonly PostgresMigrator _migrations;
    private int _disposed;

    /// <summary>Creates a store over the PostgreSQL database of <paramref name="connectionString"/> (an Npgsql connection string).</summary>
    public PostgresBatchStore(string connectionString)
        : base(Dialect)
    {
        _database = new PostgresDatabase(connectionString);
        _migrations = new PostgresMigrator(_database, Component, Migrations);
    }

    /// <inheritdoc />
    public override async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _migrations.MigrateAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override async Task<(BatchJob Job, bool Created)> CreateJobAsync(BatchJobInput input, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        await EnsureMigratedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        var id = input.Id ?? BatchIds.NewJobId(at);
        var stamp = SqliteLedgerSchema.ToStoredTimestamp(at);
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            // A concurrent create with the same idempotency key (another replica) waits on the unique index, then does nothing.
            await using (var job = new NpgsqlCommand(
                """
                INSERT INTO batch_jobs (id, key_id, idempotency_key, created_at, budget_reservation) VALUES (@id, @k, @i, @t, @b)
                ON CONFLICT ((coalesce(key_id, '')), idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;
                """,
                connection,
                transaction))
            {
                job.Parameters.AddWithValue("id", id);
                job.Parameters.AddWithValue("k", NpgsqlDbType.Text, (object?)input.KeyId ?? DBNull.Value);
                job.Parameters.AddWithValue("i", NpgsqlDbType.Text, (object?)input.IdempotencyKey ?? DBNull.Value);
                job.Parameters.AddWithValue("t", stamp);
                job.Parameters.AddWithValue("b", NpgsqlDbType.Text, (object?)input.BudgetReservation ?? DBNull.Value);
                if (await job.ExecuteNonQueryAsync(cancellationToken) == 0)
                {
                    await transaction.RollbackAsync(cancellationToken);
                    return ((await GetJobAsync(await FindIdempotentAsync(connection, input, cancellationToken), cancellationToken))!, false);
                }
            }

            await using (var importer = await connection.BeginBinaryImportAsync(
                "COPY batch_items (id, job_id, position, custom_id, params, requested_model, routed_model, policy, reason, key_id, session_id, task_label, status, queued_at) FROM STDIN (FORMAT BINARY)",
                cancellationToken))
            {
                for (var i = 0; i < input.Items.Count; i++)
                {
                    var entry = input.Items[i];
                    await importer.StartRowAsync(cancellationToken);
                    await importer.WriteAsync(LedgerIds.New(at), NpgsqlDbType.Text, cancellationToken);
                    await importer.WriteAsync(id, NpgsqlDbType.Text, cancellationToken);
                    await importer.WriteAsync(i, NpgsqlDbType.Integer, cancellationToken);
                    await importer.WriteAsync(entry.CustomId, NpgsqlDbType.Text, cancellationToken);
                    await importer.WriteAsync(entry.Params, NpgsqlDbType.Bytea, cancellationToken);
                    await importer.WriteAsync(entry.RequestedModel, NpgsqlDbType.Text, cancellationToken);
                    await importer.WriteAsync(entry.RoutedModel, NpgsqlDbType.Text, cancellationToken);
                    await WriteNullableAsync(importer, entry.Policy, cancellationToken);
                    await WriteNullableAsync(importer, entry.Reason, cancellationToken);
                    await WriteNullableAsync(importer, input.KeyId, cancellationToken);
                    await WriteNullableAsync(importer, input.SessionId, cancellationToken);
                    await WriteNullableAsync(importer, input.TaskLabel, cancellationToken);
                    await importer.WriteAsync("queued", NpgsqlDbType.Text, cancellationToken);
                    await importer.WriteAsync(stamp, NpgsqlDbType.Bigint, cancellationToken);
                }

                await importer.CompleteAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }

        return ((await GetJobAsync(id, cancellationToken))!, true);
    }

    /// <inheritdoc />
    public override async Task<(BatchSubmission Submission, IReadOnlyList<BatchItem> Items)?> BeginSubmissionAsync(string submissionId, int maxCount, long maxParamsBytes, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await EnsureMigratedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            // Rows another transaction is claiming are skipped, not waited for: no request can join two submissions.
            var taken = new List<string>();
            await using (var read = new NpgsqlCommand(
                """
                SELECT i.id, octet_length(i.params), i.job_id, j.failures FROM batch_items i JOIN batch_jobs j ON j.id = i.job_id
                WHERE i.status = 'queued' AND j.canceled_at IS NULL AND j.quarantined_at IS NULL AND (j.retry_at IS NULL OR j.retry_at <= @at)
                ORDER BY i.queued_at, i.job_id, i.position LIMIT @n FOR UPDATE OF i SKIP LOCKED;
                """,
                connection,
                transaction))
            {
                read.Parameters.AddWithValue("n", maxCount);
                read.Parameters.AddWithValue("at", SqliteLedgerSchema.ToStoredTimestamp(at));
                await using var reader = await read.ExecuteReaderAsync(cancellationToken);
                var picker = new SubmissionPicker(maxParamsBytes);
                while (await reader.ReadAsync(cancellationToken) && picker.Offer(reader.GetString(0), reader.GetInt32(1), reader.GetString(2), reader.GetInt32(3)))
                {
                }

                taken.AddRange(picker.Taken);
            }

            if (taken.Count == 0)
            {
                await transaction.RollbackAsync(cancellationToken);
                return null;
            }

            await using (var insert = new NpgsqlCommand(
                """
                INSERT INTO batch_submissions (id, state, created_at, item_count, next_poll_at, poll_delay_ms) VALUES (@id, 'submitting', @t, @n, @t, 0);
                UPDATE batch_items SET status = 'submitted', submission_id = @id WHERE id = ANY(@ids) AND status = 'queued';
                """,
                connection,
                transaction))
            {
                insert.Parameters.AddWithValue("id", submissionId);
                insert.Parameters.AddWithValue("t", SqliteLedgerSchema.ToStoredTimestamp(at));
                insert.Parameters.AddWithValue("n", taken.Count);
                insert.Parameters.AddWithValue("ids", NpgsqlDbType.Array | NpgsqlDbType.Text, taken.ToArray());
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }

        var items = await GetSubmittedItemsAsync(submissionId, cancellationToken);
        var submission = new BatchSubmission { Id = submissionId, State = "submitting", CreatedAt = at, Count = items.Count, NextPollAt = at, PollDelay = TimeSpan.Zero };
        return (submission, items);
    }

    /// <inheritdoc />
    public override async Task<BatchCancellation?> CancelJobAsync(string jobId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        await EnsureMigratedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var upstream = new List<(string, string)>();
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            await using (var mark = new NpgsqlCommand("UPDATE batch_jobs SET canceled_at = coalesce(canceled_at, @t) WHERE id = @job;", connection, transaction))
            {
                mark.Parameters.AddWithValue("t", SqliteLedgerSchema.ToStoredTimestamp(at));
                mark.Parameters.AddWithValue("job", jobId);
                if (await mark.ExecuteNonQueryAsync(cancellationToken) == 0)
                {
                    await transaction.RollbackAsync(cancellationToken);
                    return null;
                }
            }

            // Rows a batcher is claiming right now are waited for; those it took are submitted, not queued, and are answered normally.
            await using (var cancel = new NpgsqlCommand("UPDATE batch_items SET status = 'canceled', result = @r WHERE job_id = @job AND status = 'queued' RETURNING id;", connection, transaction))
            {
                cancel.Parameters.AddWithValue("job", jobId);
                cancel.Parameters.AddWithValue("r", BatchIds.CanceledResult);
                await using var reader = await cancel.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    ids.Add(reader.GetString(0));
                }
            }

            // Upstream batches holding this job's requests, and only requests of canceled jobs: canceling them cancels nothing else.
            await using (var open = new NpgsqlCommand(
                """
                SELECT s.id, s.upstream_id FROM batch_submissions s
                WHERE s.state = 'in_progress' AND s.upstream_id IS NOT NULL
                  AND EXISTS (SELECT 1 FROM batch_items i WHERE i.submission_id = s.id AND i.status = 'submitted' AND i.job_id = @job)
                  AND NOT EXISTS (SELECT 1 FROM batch_items i JOIN batch_jobs j ON j.id = i.job_id
                                  WHERE i.submission_id = s.id AND i.status = 'submitted' AND j.canceled_at IS NULL);
                """,
                connection,
                transaction))
            {
                open.Parameters.AddWithValue("job", jobId);
                await using var reader = await open.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    upstream.Add((reader.GetString(0), reader.GetString(1)));
                }
            }

            await transaction.CommitAsync(cancellationToken);
        }

        return new BatchCancellation(await GetItemsAsync(jobId, ids, cancellationToken), upstream);
    }

    /// <inheritdoc />
    public override async Task CompleteSubmissionAsync(string submissionId, IReadOnlyList<BatchResultLine> results, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(results);
        await EnsureMigratedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // The submission's row lock serializes two completions of it; the second finds it collected and changes nothing
        // (nor does a completion of one a quarantine closed).
        await using (var state = new NpgsqlCommand("SELECT state FROM batch_submissions WHERE id = @s FOR UPDATE;", connection, transaction))
        {
            state.Parameters.AddWithValue("s", submissionId);
            if (await state.ExecuteScalarAsync(cancellationToken) is not string current || current is "collected" or "failed")
            {
                await transaction.RollbackAsync(cancellationToken);
                return;
            }
        }

        await using (var update = new NpgsqlCommand(
            """
            UPDATE batch_items i SET status = r.status, result = r.result
            FROM unnest(@ids, @statuses, @results) AS r(id, status, result)
            WHERE i.id = r.id AND i.submission_id = @s AND i.status = 'submitted';
            """,
            connection,
            transaction))
        {
            update.Parameters.AddWithValue("s", submissionId);
            update.Parameters.AddWithValue("ids", NpgsqlDbType.Array | NpgsqlDbType.Text, results.Select(r => r.ItemId).ToArray());
            update.Parameters.AddWithValue("statuses", NpgsqlDbType.Array | NpgsqlDbType.Text, results.Select(r => r.Status).ToArray());
            update.Parameters.AddWithValue("results", NpgsqlDbType.Array | NpgsqlDbType.Text, results.Select(r => r.Result).ToArray());
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        // An item with no result line was never processed upstream: back to the queue, to be sent once more.
        await using (var rest = new NpgsqlCommand(
            """
            UPDATE batch_items SET status = 'queued', submission_id = NULL WHERE submission_id = @s AND status = 'submitted';
            UPDATE batch_submissions SET state = 'collected' WHERE id = @s;
            """,
            connection,
            transaction))
        {
            rest.Parameters.AddWithValue("s", submissionId);
            await rest.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
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

        await EnsureMigratedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var ids = jobIds.Distinct(StringComparer.Ordinal).ToArray();
        var counts = new List<(string, int)>(ids.Length);
        if (!fault.Counted)
        {
            await using var note = new NpgsqlCommand("UPDATE batch_jobs SET last_error = @e WHERE id = ANY(@ids) RETURNING id, failures;", connection, transaction);
            note.Parameters.AddWithValue("e", fault.Reason);
            note.Parameters.AddWithValue("ids", NpgsqlDbType.Array | NpgsqlDbType.Text, ids);
            await using var reader = await note.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                counts.Add((reader.GetString(0), reader.GetInt32(1)));
            }
        }
        else
        {
            await using (var read = new NpgsqlCommand("SELECT id, failures FROM batch_jobs WHERE id = ANY(@ids) FOR UPDATE;", connection, transaction))
            {
                read.Parameters.AddWithValue("ids", NpgsqlDbType.Array | NpgsqlDbType.Text, ids);
                await using var reader = await read.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    counts.Add((reader.GetString(0), reader.GetInt32(1) + 1));
                }
            }

            await using var update = new NpgsqlCommand(
                """
                UPDATE batch_jobs j SET failures = u.failures, last_error = @e, retry_at = u.retry_at
                FROM unnest(@ids, @failures, @retry) AS u(id, failures, retry_at) WHERE j.id = u.id;
                """,
                connection,
                transaction);
            update.Parameters.AddWithValue("e", fault.Reason);
            update.Parameters.AddWithValue("ids", NpgsqlDbType.Array | NpgsqlDbType.Text, counts.Select(c => c.Item1).ToArray());
            update.Parameters.AddWithValue("failures", NpgsqlDbType.Array | NpgsqlDbType.Integer, counts.Select(c => c.Item2).ToArray());
            update.Parameters.AddWithValue("retry", NpgsqlDbType.Array | NpgsqlDbType.Bigint, counts.Select(c => SqliteLedgerSchema.ToStoredTimestamp(fault.At + fault.RetryDelay(c.Item2))).ToArray());
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return counts;
    }

    /// <inheritdoc />
    public override Task ResetFailuresAsync(IReadOnlyCollection<string> jobIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobIds);
        return jobIds.Count == 0
            ? Task.CompletedTask
            : ExecuteAsync(
                "UPDATE batch_jobs SET failures = 0, retry_at = NULL WHERE id = ANY(@ids) AND quarantined_at IS NULL AND (failures <> 0 OR retry_at IS NOT NULL);",
                [("ids", jobIds.ToArray())],
                cancellationToken);
    }

    /// <inheritdoc />
    public override async Task<BatchQuarantine?> QuarantineJobAsync(string jobId, string reason, string result, string? submissionId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentNullException.ThrowIfNull(reason);
        ArgumentNullException.ThrowIfNull(result);
        await EnsureMigratedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var closed = new List<(string, string?)>();
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            await using (var mark = new NpgsqlCommand("UPDATE batch_jobs SET quarantined_at = coalesce(quarantined_at, @t), last_error = @e, retry_at = NULL WHERE id = @job;", connection, transaction))
            {
                mark.Parameters.AddWithValue("t", SqliteLedgerSchema.ToStoredTimestamp(at));
                mark.Parameters.AddWithValue("e", reason);
                mark.Parameters.AddWithValue("job", jobId);
                if (await mark.ExecuteNonQueryAsync(cancellationToken) == 0)
                {
                    await transaction.RollbackAsync(cancellationToken);
                    return null;
                }
            }

            await using (var error = new NpgsqlCommand(
                "UPDATE batch_items SET status = 'errored', result = @r WHERE job_id = @job AND (status = 'queued' OR (status = 'submitted' AND submission_id = @s)) RETURNING id;",
                connection,
                transaction))
            {
                error.Parameters.AddWithValue("job", jobId);
                error.Parameters.AddWithValue("r", result);
                error.Parameters.AddWithValue("s", NpgsqlDbType.Text, (object?)submissionId ?? DBNull.Value);
                await using var reader = await error.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    ids.Add(reader.GetString(0));
                }
            }

            if (submissionId is not null)
            {
                await using var close = new NpgsqlCommand(
                    """
                    UPDATE batch_submissions SET state = 'failed'
                    WHERE id = @s AND state IN ('submitting', 'in_progress')
                      AND NOT EXISTS (SELECT 1 FROM batch_items WHERE submission_id = @s AND status = 'submitted')
                    RETURNING upstream_id;
                    """,
                    connection,
                    transaction);
                close.Parameters.AddWithValue("s", submissionId);
                await using var reader = await close.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    closed.Add((submissionId, reader.IsDBNull(0) ? null : reader.GetString(0)));
                }
            }

            await transaction.CommitAsync(cancellationToken);
        }

        return new BatchQuarantine(await GetItemsAsync(jobId, ids, cancellationToken), closed);
    }

    /// <summary>
    /// Tries to become the one working batcher of this database: takes the advisory lock <see cref="LeaderLockKey"/>
    /// on a connection of its own, kept open while the lease is held. Null when another replica holds it. The server
    /// drops the lock when the connection ends — a clean stop, a killed process (its socket closes at once) or, for a
    /// vanished host, after TCP keepalive gives up (set to about a minute on this connection).
    /// </summary>
    public async Task<IBatchLease?> TryAcquireAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var connection = await _database.OpenAsync(cancellationToken);
        try
        {
            await using (var settings = new NpgsqlCommand("SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3;", connection))
            {
                await settings.ExecuteNonQueryAsync(cancellationToken);
            }

            await using var take = new NpgsqlCommand($"SELECT pg_try_advisory_lock({LeaderLockKey});", connection);
            if (await take.ExecuteScalarAsync(cancellationToken) is true)
            {
                var lease = new Lease(connection);
                connection = null;
                return lease;
            }

            return null;
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>Closes the pooled connections.</summary>
    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _database.DisposeAsync();
        }
    }

    private static async Task<string> FindIdempotentAsync(NpgsqlConnection connection, BatchJobInput input, CancellationToken cancellationToken)
    {
        await using var find = new NpgsqlCommand("SELECT id FROM batch_jobs WHERE coalesce(key_id, '') = coalesce(@k, '') AND idempotency_key = @i;", connection);
        find.Parameters.AddWithValue("k", NpgsqlDbType.Text, (object?)input.KeyId ?? DBNull.Value);
        find.Parameters.AddWithValue("i", input.IdempotencyKey!);
        return await find.ExecuteScalarAsync(cancellationToken) as string
            ?? throw new InvalidOperationException("A batch job with this idempotency key conflicted but could not be read back.");
    }

    private static Task WriteNullableAsync(NpgsqlBinaryImporter importer, string? value, CancellationToken cancellationToken) =>
        value is null ? importer.WriteNullAsync(cancellationToken) : importer.WriteAsync(value, NpgsqlDbType.Text, cancellationToken);

    private protected override async Task ExecuteAsync(string sql, (string Name, object Value)[] parameters, CancellationToken cancellationToken)
    {
        await EnsureMigratedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand(sql, connection, transaction))
        {
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value);
            }

            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private protected override async Task<DbConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        await EnsureMigratedAsync(cancellationToken);
        return await _database.OpenAsync(cancellationToken);
    }

    private async Task EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _migrations.EnsureMigratedAsync(cancellationToken);
    }

    /// <summary>The held advisory lock: its connection stays open until disposed.</summary>
    private sealed class Lease(NpgsqlConnection connection) : IBatchLease
    {
        private int _disposed;

        public async Task<bool> IsHeldAsync(CancellationToken cancellationToken = default)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return false;
            }

            try
            {
                // A live session still holds its lock; a failed round trip means the server may have dropped it.
                await using var check = new NpgsqlCommand("SELECT 1;", connection) { CommandTimeout = 15 };
                return await check.ExecuteScalarAsync(cancellationToken) is 1;
            }
            catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException or IOException or TimeoutException)
            {
                return false;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            try
            {
                await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({LeaderLockKey});", connection) { CommandTimeout = 15 };
                await release.ExecuteNonQueryAsync();
            }
            catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException or IOException or TimeoutException)
            {
                // The session is gone, and its lock with it.
            }

            await connection.DisposeAsync();
        }
    }
}
