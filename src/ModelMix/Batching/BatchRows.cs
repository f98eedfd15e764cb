using System.Data.Common;
using ModelMix.Ledger;

namespace ModelMix.Batching;

/// <summary>
/// The batch queue's rows read back into objects, for the SQLite and PostgreSQL stores alike: both keep the same
/// columns (times as 100 ns ticks, poll delays in milliseconds), so only their SQL differs.
/// </summary>
internal static class BatchRows
{
    /// <summary>The columns <see cref="Item"/> reads, in order.</summary>
    public const string ItemColumns = "id, job_id, custom_id, params, requested_model, routed_model, policy, reason, key_id, session_id, task_label, status, result";

    /// <summary>The columns <see cref="Submission"/> reads, in order.</summary>
    public const string SubmissionColumns = "id, upstream_id, state, created_at, item_count, next_poll_at, poll_delay_ms, correct_until";

    /// <summary>The job columns <see cref="Job"/> reads after the counts, in order (prefixed with the jobs table's alias <c>j.</c>).</summary>
    public const string JobFaultColumns = "j.failures, j.last_error, j.retry_at, j.quarantined_at";

    /// <summary>
    /// A job from a row of <c>key_id, created_at, budget_reservation, canceled_at</c> followed by its items' counts by
    /// status (queued, submitted, succeeded, errored, canceled, expired), then <see cref="JobFaultColumns"/>.
    /// </summary>
    public static BatchJob Job(DbDataReader reader, string jobId) => new()
    {
        Id = jobId,
        KeyId = reader.IsDBNull(0) ? null : reader.GetString(0),
        CreatedAt = SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(1)),
        BudgetReservation = reader.IsDBNull(2) ? null : reader.GetString(2),
        CanceledAt = reader.IsDBNull(3) ? null : SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(3)),
        Queued = reader.GetInt64(4),
        Processing = reader.GetInt64(5),
        Succeeded = reader.GetInt64(6),
        Errored = reader.GetInt64(7),
        Canceled = reader.GetInt64(8),
        Expired = reader.GetInt64(9),
        Failures = reader.GetInt32(10),
        LastError = reader.IsDBNull(11) ? null : reader.GetString(11),
        RetryAt = reader.IsDBNull(12) ? null : SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(12)),
        QuarantinedAt = reader.IsDBNull(13) ? null : SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(13)),
    };

    /// <summary>An item from a row of <see cref="ItemColumns"/>.</summary>
    public static BatchItem Item(DbDataReader reader) => new()
    {
        Id = reader.GetString(0),
        JobId = reader.GetString(1),
        CustomId = reader.GetString(2),
        Params = reader.GetFieldValue<byte[]>(3),
        RequestedModel = reader.GetString(4),
        RoutedModel = reader.GetString(5),
        Policy = reader.IsDBNull(6) ? null : reader.GetString(6),
        Reason = reader.IsDBNull(7) ? null : reader.GetString(7),
        KeyId = reader.IsDBNull(8) ? null : reader.GetString(8),
        SessionId = reader.IsDBNull(9) ? null : reader.GetString(9),
        TaskLabel = reader.IsDBNull(10) ? null : reader.GetString(10),
        Status = reader.GetString(11),
        Result = reader.IsDBNull(12) ? null : reader.GetString(12),
    };

    /// <summary>A submission from a row of <see cref="SubmissionColumns"/>.</summary>
    public static BatchSubmission Submission(DbDataReader reader) => new()
    {
        Id = reader.GetString(0),
        UpstreamId = reader.IsDBNull(1) ? null : reader.GetString(1),
        State = reader.GetString(2),
        CreatedAt = SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(3)),
        Count = reader.GetInt32(4),
        NextPollAt = SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(5)),
        PollDelay = TimeSpan.FromMilliseconds(reader.GetInt64(6)),
        CorrectUntil = reader.IsDBNull(7) ? null : SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(7)),
    };
}
