namespace ModelMix.Ledger;

/// <summary>
/// Indexes for the dashboard's and the audit's raw-row reads (docs/performance.md, "Dashboard and audit at 10M rows").
/// </summary>
internal static class LedgerReadIndexes
{
    /// <summary>
    /// The count of escalated requests (<see cref="LedgerRollupReader.EscalatedRequestsSql"/>) from the index alone: its
    /// partial condition is the query's, and it carries the request id, so no table row is read (the previous index on
    /// timestamp alone made PostgreSQL fetch 170,000 table pages for a 14-day count at 10M rows). Replaces
    /// <c>ix_ledger_records_escalated</c>. SQLite: the request id is a second key column (it has no INCLUDE).
    /// </summary>
    public const string EscalatedRequestsSqlite =
        "DROP INDEX IF EXISTS ix_ledger_records_escalated;\n" +
        "CREATE INDEX IF NOT EXISTS ix_ledger_records_escalated_requests ON ledger_records (timestamp, request_id) WHERE escalated_from IS NOT NULL AND attempt <> 0;\n";

    /// <summary>PostgreSQL's form of <see cref="EscalatedRequestsSqlite"/> (on the partitioned table: one per partition).</summary>
    public const string EscalatedRequestsPostgres =
        "DROP INDEX IF EXISTS ix_ledger_records_escalated;\n" +
        "CREATE INDEX IF NOT EXISTS ix_ledger_records_escalated_requests ON ledger_records (timestamp) INCLUDE (request_id) WHERE escalated_from IS NOT NULL AND attempt <> 0;\n";
}
