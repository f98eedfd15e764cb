using ModelMix.Ledger;

namespace ModelMix.Postgres;

/// <summary>
/// The PostgreSQL side of the hourly and daily rollups (<see cref="LedgerRollupSql"/>): the migration step, and the batch move
/// that adds exactly the rows it inserted to the rollups in the same statement (<c>INSERT … ON CONFLICT DO NOTHING
/// RETURNING</c> feeds the upsert, so a replayed record, skipped, is never counted twice).
/// </summary>
internal static class PostgresLedgerRollups
{
    /// <summary>The migration step (6): the first rollup table and the backfill of every row already stored.</summary>
    public static string MigrationStep =>
        LedgerRollupSql.CreateTableV1(LedgerSqlDialect.Postgres) + LedgerRollupSql.BackfillV1(LedgerSqlDialect.Postgres) +
        LedgerRollupSql.EscalationIndex;

    /// <summary>The migration step (9): the rollups' <c>effort_sent</c> dimension (<see cref="LedgerRollupSql.EffortSentMigration"/>).</summary>
    public static string EffortSentMigrationStep => LedgerRollupSql.EffortSentMigration(LedgerSqlDialect.Postgres);

    /// <summary>
    /// <paramref name="moveBatch"/> (an <c>INSERT … ON CONFLICT (id, timestamp) DO NOTHING;</c> into <c>ledger_records</c>) made to
    /// return the rows it inserted and roll them up (hourly, daily, per session, and escalated requests after the batch's
    /// advisory locks, <see cref="LedgerEscalationRollup"/>).
    /// </summary>
    public static string WithRollups(string moveBatch)
    {
        ArgumentNullException.ThrowIfNull(moveBatch);
        var insert = moveBatch.TrimEnd().TrimEnd(';');
        // The batch's days' versions first (LedgerDayVersions), in day order: every writer locks them before any rollup row.
        return LedgerDayVersions.BumpFrom(LedgerDayVersions.DayOf("timestamp"), "ledger_batch", "true") +
            LedgerEscalationRollup.PostgresLockSql + "\n" +
            $"WITH inserted AS ({insert} RETURNING {SqliteLedgerSchema.SelectColumns}),\n" +
            $"hourly AS ({LedgerRollupSql.Upsert(LedgerSqlDialect.Postgres, "inserted", "true", terminated: false)}),\n" +
            $"sessions AS ({LedgerRollupSql.SessionUpsert(LedgerSqlDialect.Postgres, "inserted", "true", terminated: false)})" +
            LedgerEscalationRollup.PostgresWithParts("inserted") + "\n" +
            LedgerRollupSql.Upsert(LedgerSqlDialect.Postgres, "inserted", "true", daily: true);
    }

    /// <summary>
    /// Recomputes the rollups of the hours [@from, @to) from the raw rows still stored (for a repricing or a correction),
    /// then the daily rows of the days covering them from the hourly rows and the hours' per-session rows from the raw rows.
    /// </summary>
    public static string RecomputeSql { get; } =
        $"DELETE FROM {LedgerRollupSql.Table} WHERE hour >= @from AND hour < @to;\n" +
        LedgerRollupSql.Upsert(LedgerSqlDialect.Postgres, "ledger_records", "timestamp >= @from AND timestamp < @to") + "\n" +
        LedgerRollupSql.RecomputeDays(LedgerSqlDialect.Postgres, "@from", "@to") +
        LedgerRollupSql.RecomputeSessionHours(LedgerSqlDialect.Postgres, "@from", "@to");

    /// <summary>The migration step after ledger step 11: the rollups' overrun, the daily table and the overrun trigger (<see cref="LedgerRollupSql.OverrunAndDailyMigration"/>).</summary>
    public static string OverrunAndDailyMigrationStep => LedgerRollupSql.OverrunAndDailyMigration(LedgerSqlDialect.Postgres);

    /// <summary>The migration step after it: the per-session hourly sums (<see cref="LedgerRollupSql.SessionHoursMigration"/>).</summary>
    public static string SessionHoursMigrationStep => LedgerRollupSql.SessionHoursMigration(LedgerSqlDialect.Postgres);
}
