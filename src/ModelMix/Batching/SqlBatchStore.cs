using System.Data.Common;
using ModelMix.Ledger;
using ModelMix.Stores;

namespace ModelMix.Batching;

/// <summary>
/// What the SQL batch stores (<c>SqliteBatchStore</c>, <c>ModelMix.Postgres.PostgresBatchStore</c>) share: the same
/// tables and columns (see <see cref="BatchRows"/>), so the reads and single-statement updates are one SQL text each
/// (parameters spelled <c>@name</c>, which both drivers bind), except where a backend needs its own
/// (<see cref="BatchDialect"/>). Each store supplies how it opens a read connection and how it runs an update in a
/// transaction (SQLite through its single writer, PostgreSQL from the pool), and writes the multi-statement changes
/// (create, submit, complete, cancel, faults, quarantine) itself. Only the store packages of this repository derive
/// from it (its constructor is not visible elsewhere); a new backend implements <see cref="IBatchStore"/>.
/// </summary>
public abstract class SqlBatchStore : IBatchStore
{
    private readonly BatchDialect _dialect;
    private readonly string _jobSql;

    /// <summary>Creates the shared part of a store whose SQL differs from the common text as <paramref name="dialect"/> says.</summary>
    private protected SqlBatchStore(BatchDialect dialect)
    {
        _dialect = dialect;
        _jobSql = $"""
        SELECT j.key_id, j.created_at, j.budget_reservation, j.canceled_at,
               {dialect.CountWhere("i.status = 'queued'")}, {dialect.CountWhere("i.status = 'submitted'")},
               {dialect.CountWhere("i.status = 'succeeded'")}, {dialect.CountWhere("i.status = 'errored'")},
               {dialect.CountWhere("i.status = 'canceled'")}, {dialect.CountWhere("i.status = 'expired'")},
               {BatchRows.JobFaultColumns}
        FROM batch_jobs j LEFT JOIN batch_items i ON i.job_id = j.id WHERE j.id = @id GROUP BY j.id;
        """;
    }

    /// <inheritdoc />
    public async Task<BatchJob?> GetJobAsync(string jobId, CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = StoreCommands.Create(connection, _jobSql, "@id", jobId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return BatchRows.Job(reader, jobId);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<BatchItem>> GetItemsAsync(string jobId, CancellationToken cancellationToken = default) =>
        ReadItemsAsync("job_id = @v ORDER BY position", jobId, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<BatchItem>> GetSubmittedItemsAsync(string submissionId, CancellationToken cancellationToken = default) =>
        ReadItemsAsync("submission_id = @v AND status = 'submitted'" + _dialect.SubmittedItemsOrder, submissionId, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<BatchItem>> GetCorrectableItemsAsync(string submissionId, CancellationToken cancellationToken = default) =>
        ReadItemsAsync(
            "submission_id = @v AND status = 'errored' AND EXISTS (SELECT 1 FROM batch_submissions s WHERE s.id = @v AND s.correct_until IS NOT NULL) ORDER BY job_id, position",
            submissionId,
            cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<BatchSubmission>> GetOpenSubmissionsAsync(CancellationToken cancellationToken = default) =>
        ReadSubmissionsAsync("state IN ('submitting', 'in_progress') ORDER BY " + _dialect.SubmissionsOrder, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<BatchSubmission>> GetCorrectionsAsync(CancellationToken cancellationToken = default) =>
        ReadSubmissionsAsync("state = 'failed' AND correct_until IS NOT NULL ORDER BY " + _dialect.SubmissionsOrder, cancellationToken);

    /// <inheritdoc />
    public async Task<IReadOnlySet<string>> GetKnownUpstreamIdsAsync(CancellationToken cancellationToken = default)
    {
        return await ReadStringsAsync(
            "SELECT upstream_id FROM batch_submissions WHERE upstream_id IS NOT NULL;", new HashSet<string>(StringComparer.Ordinal), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> GetCanceledJobsWithQueuedItemsAsync(CancellationToken cancellationToken = default) =>
        JobsWithQueuedItemsAsync("j.canceled_at IS NOT NULL", cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> GetQuarantinedJobsWithQueuedItemsAsync(CancellationToken cancellationToken = default) =>
        JobsWithQueuedItemsAsync("j.quarantined_at IS NOT NULL", cancellationToken);

    /// <inheritdoc />
    public async Task<bool> IsCorrectionPendingAsync(string jobId, CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = StoreCommands.Create(
            connection,
            "SELECT EXISTS (SELECT 1 FROM batch_items i JOIN batch_submissions s ON s.id = i.submission_id WHERE i.job_id = @job AND s.correct_until IS NOT NULL);",
            "@job",
            jobId);
        return await StoreCommands.ScalarBooleanAsync(command, cancellationToken);
    }

    /// <inheritdoc />
    public Task SetUpstreamIdAsync(string submissionId, string upstreamId, DateTimeOffset nextPollAt, TimeSpan pollDelay, CancellationToken cancellationToken = default) =>
        ExecuteAsync(
            "UPDATE batch_submissions SET upstream_id = @u, state = 'in_progress', next_poll_at = @n, poll_delay_ms = @d WHERE id = @id AND state NOT IN ('collected', 'failed');",
            [("@id", submissionId), ("@u", upstreamId), ("@n", SqliteLedgerSchema.ToStoredTimestamp(nextPollAt)), ("@d", (long)pollDelay.TotalMilliseconds)],
            cancellationToken);

    /// <inheritdoc />
    public Task SetNextPollAsync(string submissionId, DateTimeOffset nextPollAt, TimeSpan pollDelay, CancellationToken cancellationToken = default) =>
        ExecuteAsync(
            "UPDATE batch_submissions SET next_poll_at = @n, poll_delay_ms = @d WHERE id = @id;",
            [("@id", submissionId), ("@n", SqliteLedgerSchema.ToStoredTimestamp(nextPollAt)), ("@d", (long)pollDelay.TotalMilliseconds)],
            cancellationToken);

    /// <inheritdoc />
    public Task AbandonSubmissionAsync(string submissionId, CancellationToken cancellationToken = default) =>
        ExecuteAsync(
            "UPDATE batch_items SET status = 'queued', submission_id = NULL WHERE submission_id = @id AND status = 'submitted'; DELETE FROM batch_submissions WHERE id = @id;",
            [("@id", submissionId)],
            cancellationToken);

    /// <inheritdoc />
    public Task MarkForCorrectionAsync(string submissionId, DateTimeOffset until, CancellationToken cancellationToken = default) =>
        ExecuteAsync(
            "UPDATE batch_submissions SET correct_until = coalesce(correct_until, @u) WHERE id = @id AND upstream_id IS NOT NULL;",
            [("@id", submissionId), ("@u", SqliteLedgerSchema.ToStoredTimestamp(until))],
            cancellationToken);

    /// <inheritdoc />
    public Task EndCorrectionAsync(string submissionId, CancellationToken cancellationToken = default) =>
        ExecuteAsync("UPDATE batch_submissions SET correct_until = NULL WHERE id = @id;", [("@id", submissionId)], cancellationToken);

    /// <inheritdoc />
    public abstract Task MigrateAsync(CancellationToken cancellationToken = default);

    /// <inheritdoc />
    public abstract Task<(BatchJob Job, bool Created)> CreateJobAsync(BatchJobInput input, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <inheritdoc />
    public abstract Task<(BatchSubmission Submission, IReadOnlyList<BatchItem> Items)?> BeginSubmissionAsync(string submissionId, int maxCount, long maxParamsBytes, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <inheritdoc />
    public abstract Task<BatchCancellation?> CancelJobAsync(string jobId, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <inheritdoc />
    public abstract Task CompleteSubmissionAsync(string submissionId, IReadOnlyList<BatchResultLine> results, CancellationToken cancellationToken = default);

    /// <inheritdoc />
    public abstract Task<IReadOnlyList<(string JobId, int Failures)>> RecordFaultAsync(IReadOnlyCollection<string> jobIds, BatchFault fault, CancellationToken cancellationToken = default);

    /// <inheritdoc />
    public abstract Task ResetFailuresAsync(IReadOnlyCollection<string> jobIds, CancellationToken cancellationToken = default);

    /// <inheritdoc />
    public abstract Task<BatchQuarantine?> QuarantineJobAsync(string jobId, string reason, string result, string? submissionId, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <inheritdoc />
    public abstract ValueTask DisposeAsync();

    /// <summary>Opens a read connection, migrating the store first when it has not been.</summary>
    private protected abstract Task<DbConnection> OpenReaderAsync(CancellationToken cancellationToken);

    /// <summary>Runs one update (SQL and its parameters, named <c>@name</c>) in a transaction of its own, migrating first.</summary>
    private protected abstract Task ExecuteAsync(string sql, (string Name, object Value)[] parameters, CancellationToken cancellationToken);

    /// <summary>The items of the job whose ids are in <paramref name="ids"/>, in their order (what a cancel or quarantine changed).</summary>
    private protected async Task<IReadOnlyList<BatchItem>> GetItemsAsync(string jobId, IReadOnlySet<string> ids, CancellationToken cancellationToken) =>
        (await GetItemsAsync(jobId, cancellationToken)).Where(item => ids.Contains(item.Id)).ToList();

    private async Task<IReadOnlyList<BatchItem>> ReadItemsAsync(string where, string value, CancellationToken cancellationToken)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = StoreCommands.Create(connection, $"SELECT {BatchRows.ItemColumns} FROM batch_items WHERE {where};", "@v", value);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<BatchItem>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(BatchRows.Item(reader));
        }

        return list;
    }

    /// <summary>The submissions matching <paramref name="whereAndOrder"/> (a condition and its <c>ORDER BY</c>).</summary>
    private async Task<IReadOnlyList<BatchSubmission>> ReadSubmissionsAsync(string whereAndOrder, CancellationToken cancellationToken)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = StoreCommands.Create(connection, $"SELECT {BatchRows.SubmissionColumns} FROM batch_submissions WHERE {whereAndOrder};");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<BatchSubmission>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(BatchRows.Submission(reader));
        }

        return list;
    }

    /// <summary>The jobs that still have queued items and match <paramref name="jobCondition"/> (a fixed SQL fragment, never input).</summary>
    private async Task<IReadOnlyList<string>> JobsWithQueuedItemsAsync(string jobCondition, CancellationToken cancellationToken) =>
        await ReadStringsAsync(
            $"SELECT DISTINCT i.job_id FROM batch_items i JOIN batch_jobs j ON j.id = i.job_id WHERE i.status = 'queued' AND {jobCondition};", new List<string>(), cancellationToken);

    /// <summary>Adds the first column of each row of <paramref name="sql"/> to <paramref name="list"/>.</summary>
    private async Task<T> ReadStringsAsync<T>(string sql, T list, CancellationToken cancellationToken)
        where T : ICollection<string>
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = StoreCommands.Create(connection, sql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(reader.GetString(0));
        }

        return list;
    }
}

/// <summary>What differs between the SQLite and PostgreSQL batch stores' shared SQL (<see cref="SqlBatchStore"/>).</summary>
/// <param name="CountWhere">A count of a job's items that meet a condition (<c>FILTER</c> in PostgreSQL, <c>CASE</c> in SQLite).</param>
/// <param name="SubmittedItemsOrder">The <c>ORDER BY</c> (with its leading space) of a submission's items, or empty.</param>
/// <param name="SubmissionsOrder">The order of submissions listed oldest first.</param>
internal sealed record BatchDialect(Func<string, string> CountWhere, string SubmittedItemsOrder, string SubmissionsOrder);
