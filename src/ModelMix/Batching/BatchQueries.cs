using System.Data.Common;
using ModelMix.Ledger;
using ModelMix.Stores;

namespace ModelMix.Batching;

/// <summary>
/// The batch queue's reads and single-statement updates, for the SQLite and PostgreSQL batch stores alike: the same
/// tables and columns (see <see cref="BatchRows"/>), so one SQL text each (parameters spelled <c>@name</c>, which both
/// drivers bind), except where a backend needs its own (<see cref="BatchDialect"/>). Each store supplies how it opens a
/// read connection and how it runs an update in a transaction (SQLite through its single writer, PostgreSQL from the
/// pool); the multi-statement writes (create, submit, complete, cancel, faults, quarantine) stay in each store.
/// </summary>
/// <param name="open">Opens a read connection, migrating the store first when it has not been.</param>
/// <param name="execute">Runs one update (SQL and its parameters) in a transaction of its own, migrating first.</param>
/// <param name="dialect">What differs between the backends' SQL.</param>
internal sealed class BatchQueries(
    Func<CancellationToken, Task<DbConnection>> open,
    Func<string, (string Name, object Value)[], CancellationToken, Task> execute,
    BatchDialect dialect)
{
    private readonly string _jobSql = $"""
        SELECT j.key_id, j.created_at, j.budget_reservation, j.canceled_at,
               {dialect.CountWhere("i.status = 'queued'")}, {dialect.CountWhere("i.status = 'submitted'")},
               {dialect.CountWhere("i.status = 'succeeded'")}, {dialect.CountWhere("i.status = 'errored'")},
               {dialect.CountWhere("i.status = 'canceled'")}, {dialect.CountWhere("i.status = 'expired'")},
               {BatchRows.JobFaultColumns}
        FROM batch_jobs j LEFT JOIN batch_items i ON i.job_id = j.id WHERE j.id = @id GROUP BY j.id;
        """;

    /// <summary>A job with its items' counts by status, or null when there is none.</summary>
    public async Task<BatchJob?> GetJobAsync(string jobId, CancellationToken cancellationToken)
    {
        await using var connection = await open(cancellationToken);
        await using var command = StoreCommands.Create(connection, _jobSql, "@id", jobId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return BatchRows.Job(reader, jobId);
    }

    /// <summary>A job's items in their order.</summary>
    public Task<IReadOnlyList<BatchItem>> GetItemsAsync(string jobId, CancellationToken cancellationToken) =>
        ReadItemsAsync("job_id = @v ORDER BY position", jobId, cancellationToken);

    /// <summary>The items a submission sent and has not settled.</summary>
    public Task<IReadOnlyList<BatchItem>> GetSubmittedItemsAsync(string submissionId, CancellationToken cancellationToken) =>
        ReadItemsAsync("submission_id = @v AND status = 'submitted'" + dialect.SubmittedItemsOrder, submissionId, cancellationToken);

    /// <summary>The errored items of a submission marked for correction (none when it is not marked).</summary>
    public Task<IReadOnlyList<BatchItem>> GetCorrectableItemsAsync(string submissionId, CancellationToken cancellationToken) =>
        ReadItemsAsync(
            "submission_id = @v AND status = 'errored' AND EXISTS (SELECT 1 FROM batch_submissions s WHERE s.id = @v AND s.correct_until IS NOT NULL) ORDER BY job_id, position",
            submissionId,
            cancellationToken);

    /// <summary>The submissions being submitted or in progress upstream, oldest first.</summary>
    public Task<IReadOnlyList<BatchSubmission>> GetOpenSubmissionsAsync(CancellationToken cancellationToken) =>
        ReadSubmissionsAsync("state IN ('submitting', 'in_progress') ORDER BY " + dialect.SubmissionsOrder, cancellationToken);

    /// <summary>The failed submissions marked for correction, oldest first.</summary>
    public Task<IReadOnlyList<BatchSubmission>> GetCorrectionsAsync(CancellationToken cancellationToken) =>
        ReadSubmissionsAsync("state = 'failed' AND correct_until IS NOT NULL ORDER BY " + dialect.SubmissionsOrder, cancellationToken);

    /// <summary>Every upstream batch id the store knows.</summary>
    public async Task<IReadOnlySet<string>> GetKnownUpstreamIdsAsync(CancellationToken cancellationToken)
    {
        return await ReadStringsAsync(
            "SELECT upstream_id FROM batch_submissions WHERE upstream_id IS NOT NULL;", new HashSet<string>(StringComparer.Ordinal), cancellationToken);
    }

    /// <summary>The canceled jobs that still have queued items.</summary>
    public Task<IReadOnlyList<string>> GetCanceledJobsWithQueuedItemsAsync(CancellationToken cancellationToken) =>
        JobsWithQueuedItemsAsync("j.canceled_at IS NOT NULL", cancellationToken);

    /// <summary>The quarantined jobs that still have queued items.</summary>
    public Task<IReadOnlyList<string>> GetQuarantinedJobsWithQueuedItemsAsync(CancellationToken cancellationToken) =>
        JobsWithQueuedItemsAsync("j.quarantined_at IS NOT NULL", cancellationToken);

    /// <summary>Whether any submission of the job is marked for correction.</summary>
    public async Task<bool> IsCorrectionPendingAsync(string jobId, CancellationToken cancellationToken)
    {
        await using var connection = await open(cancellationToken);
        await using var command = StoreCommands.Create(
            connection,
            "SELECT EXISTS (SELECT 1 FROM batch_items i JOIN batch_submissions s ON s.id = i.submission_id WHERE i.job_id = @job AND s.correct_until IS NOT NULL);",
            "@job",
            jobId);
        return await StoreCommands.ScalarBooleanAsync(command, cancellationToken);
    }

    /// <summary>Records the upstream id of a submission now in progress (unless it already ended).</summary>
    public Task SetUpstreamIdAsync(string submissionId, string upstreamId, DateTimeOffset nextPollAt, TimeSpan pollDelay, CancellationToken cancellationToken) =>
        execute(
            "UPDATE batch_submissions SET upstream_id = @u, state = 'in_progress', next_poll_at = @n, poll_delay_ms = @d WHERE id = @id AND state NOT IN ('collected', 'failed');",
            [("@id", submissionId), ("@u", upstreamId), ("@n", SqliteLedgerSchema.ToStoredTimestamp(nextPollAt)), ("@d", (long)pollDelay.TotalMilliseconds)],
            cancellationToken);

    /// <summary>Sets when a submission is polled next.</summary>
    public Task SetNextPollAsync(string submissionId, DateTimeOffset nextPollAt, TimeSpan pollDelay, CancellationToken cancellationToken) =>
        execute(
            "UPDATE batch_submissions SET next_poll_at = @n, poll_delay_ms = @d WHERE id = @id;",
            [("@id", submissionId), ("@n", SqliteLedgerSchema.ToStoredTimestamp(nextPollAt)), ("@d", (long)pollDelay.TotalMilliseconds)],
            cancellationToken);

    /// <summary>Puts a submission's items back in the queue and forgets the submission.</summary>
    public Task AbandonSubmissionAsync(string submissionId, CancellationToken cancellationToken) =>
        execute(
            "UPDATE batch_items SET status = 'queued', submission_id = NULL WHERE submission_id = @id AND status = 'submitted'; DELETE FROM batch_submissions WHERE id = @id;",
            [("@id", submissionId)],
            cancellationToken);

    /// <summary>Marks a submission that reached upstream for correction until <paramref name="until"/> (the first mark stands).</summary>
    public Task MarkForCorrectionAsync(string submissionId, DateTimeOffset until, CancellationToken cancellationToken) =>
        execute(
            "UPDATE batch_submissions SET correct_until = coalesce(correct_until, @u) WHERE id = @id AND upstream_id IS NOT NULL;",
            [("@id", submissionId), ("@u", SqliteLedgerSchema.ToStoredTimestamp(until))],
            cancellationToken);

    /// <summary>Clears a submission's correction mark.</summary>
    public Task EndCorrectionAsync(string submissionId, CancellationToken cancellationToken) =>
        execute("UPDATE batch_submissions SET correct_until = NULL WHERE id = @id;", [("@id", submissionId)], cancellationToken);

    private async Task<IReadOnlyList<BatchItem>> ReadItemsAsync(string where, string value, CancellationToken cancellationToken)
    {
        await using var connection = await open(cancellationToken);
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
        await using var connection = await open(cancellationToken);
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
        await using var connection = await open(cancellationToken);
        await using var command = StoreCommands.Create(connection, sql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(reader.GetString(0));
        }

        return list;
    }
}

/// <summary>What differs between the SQLite and PostgreSQL batch stores' shared SQL (<see cref="BatchQueries"/>).</summary>
/// <param name="CountWhere">A count of a job's items that meet a condition (<c>FILTER</c> in PostgreSQL, <c>CASE</c> in SQLite).</param>
/// <param name="SubmittedItemsOrder">The <c>ORDER BY</c> (with its leading space) of a submission's items, or empty.</param>
/// <param name="SubmissionsOrder">The order of submissions listed oldest first.</param>
internal sealed record BatchDialect(Func<string, string> CountWhere, string SubmittedItemsOrder, string SubmissionsOrder);
