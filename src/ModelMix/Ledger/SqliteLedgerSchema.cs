using System.Globalization;
using ModelMix.Pricing;

namespace ModelMix.Ledger;

/// <summary>
/// The SQLite schema of the ledger: ordered migrations, the column list shared by inserts and reads, and the stable
/// text codes stored for enums (so renaming a C# member never changes what is on disk).
/// </summary>
internal static class SqliteLedgerSchema
{
    /// <summary>
    /// Migrations in order; migration <c>i</c> (0-based) brings the database to <c>PRAGMA user_version = i + 1</c>.
    /// Append only: never edit a step that has shipped.
    /// </summary>
    public static readonly IReadOnlyList<string> Migrations =
    [
        // 1: the ledger table. STRICT makes SQLite refuse a value of the wrong type, so a cost can never be stored
        // as REAL by accident: cost components are exact decimal text (invariant culture), tokens are INTEGER,
        // the timestamp is INTEGER 100 ns ticks since the Unix epoch (UTC), which sorts and round-trips exactly.
        """
        CREATE TABLE ledger_records (
            seq                   INTEGER PRIMARY KEY,
            id                    TEXT    NOT NULL,
            timestamp             INTEGER NOT NULL,
            request_id            TEXT    NOT NULL,
            upstream_request_id   TEXT,
            session_id            TEXT,
            key_id                TEXT,
            task_label            TEXT,
            requested_model       TEXT    NOT NULL,
            routed_model          TEXT    NOT NULL,
            response_model        TEXT,
            policy                TEXT,
            reason                TEXT,
            attempt               INTEGER NOT NULL,
            escalated_from        TEXT,
            input_tokens          INTEGER NOT NULL,
            output_tokens         INTEGER NOT NULL,
            cache_write_5m_tokens INTEGER NOT NULL,
            cache_write_1h_tokens INTEGER NOT NULL,
            cache_read_tokens     INTEGER NOT NULL,
            service_tier          TEXT    NOT NULL,
            speed                 TEXT    NOT NULL,
            inference_geo         TEXT,
            cost_input            TEXT,
            cost_output           TEXT,
            cost_cache_write_5m   TEXT,
            cost_cache_write_1h   TEXT,
            cost_cache_read       TEXT,
            cost_total            TEXT,
            latency_ms            INTEGER NOT NULL,
            streaming             INTEGER NOT NULL,
            status                TEXT    NOT NULL,
            http_status           INTEGER NOT NULL,
            error_type            TEXT,
            shadow_pair_id        TEXT,
            CHECK ((cost_input IS NULL) = (cost_output IS NULL)
               AND (cost_input IS NULL) = (cost_cache_write_5m IS NULL)
               AND (cost_input IS NULL) = (cost_cache_write_1h IS NULL)
               AND (cost_input IS NULL) = (cost_cache_read IS NULL)
               AND (cost_input IS NULL) = (cost_total IS NULL))
        ) STRICT;
        CREATE UNIQUE INDEX ux_ledger_records_id ON ledger_records (id);
        CREATE INDEX ix_ledger_records_timestamp ON ledger_records (timestamp);
        CREATE INDEX ix_ledger_records_request_id ON ledger_records (request_id);
        CREATE INDEX ix_ledger_records_key_id ON ledger_records (key_id, timestamp);
        CREATE INDEX ix_ledger_records_session_id ON ledger_records (session_id, timestamp);
        """,

        // 2: shadow pairs (docs/shadow.md). One row per compared pair; the ledger records of the live, shadow and judge
        // calls carry pair_id in ledger_records.shadow_pair_id. Costs are exact decimal text (NULL = unpriced / no
        // call), agreement is REAL in [0, 1] (a score, not money; NULL = no comparison was possible), instants are
        // 100 ns ticks since the Unix epoch. method: exact | json | judge; status: ok | shadow_failed | judge_failed.
        // prompt / live_answer / shadow_answer stay NULL unless the operator turned StoreAnswers on.
        """
        CREATE TABLE shadow_pairs (
            pair_id              TEXT    PRIMARY KEY,
            live_request_id      TEXT    NOT NULL,
            task_label           TEXT,
            live_model           TEXT    NOT NULL,
            shadow_model         TEXT    NOT NULL,
            method               TEXT    NOT NULL,
            agreement            REAL CHECK (agreement IS NULL OR (agreement >= 0 AND agreement <= 1)),
            status               TEXT    NOT NULL,
            live_cost            TEXT,
            shadow_cost          TEXT,
            judge_cost           TEXT,
            live_input_tokens    INTEGER NOT NULL,
            live_output_tokens   INTEGER NOT NULL,
            shadow_input_tokens  INTEGER NOT NULL,
            shadow_output_tokens INTEGER NOT NULL,
            created_at           INTEGER NOT NULL,
            completed_at         INTEGER NOT NULL,
            prompt               TEXT,
            live_answer          TEXT,
            shadow_answer        TEXT
        ) STRICT;
        CREATE INDEX ix_shadow_pairs_created_at ON shadow_pairs (created_at);
        CREATE INDEX ix_shadow_pairs_task_label ON shadow_pairs (task_label, created_at);
        """,

        // 3: effort and dropped thinking (docs/ledger.md). effort: the output_config.effort the attempt ran at (low …
        // max; NULL = no effort parameter or unknown default); effort_is_default: 1 when it is the model's default
        // because none was sent; thinking_blocks_dropped: input_transformations entries of type thinking_dropped.
        // Rows written before this step read as NULL / 0 / 0.
        """
        ALTER TABLE ledger_records ADD COLUMN effort TEXT;
        ALTER TABLE ledger_records ADD COLUMN effort_is_default INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE ledger_records ADD COLUMN thinking_blocks_dropped INTEGER NOT NULL DEFAULT 0;
        """,

        // 4: server-tool uses and their fees (docs/ledger.md, docs/pricing.md). web_search_requests / web_fetch_requests:
        // usage.server_tool_use's counters, so a call can be repriced; cost_server_tools: their fees, exact decimal text,
        // included in cost_total (NULL when the record is unpriced, and on rows written before this step, which read
        // as no use and no fee).
        """
        ALTER TABLE ledger_records ADD COLUMN web_search_requests INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE ledger_records ADD COLUMN web_fetch_requests INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE ledger_records ADD COLUMN cost_server_tools TEXT;
        """,

        // 5: clients that hang up (docs/ledger.md). client_disconnected: 1 when the client left before the answer was
        // complete (the call is billed all the same); usage_estimated: 1 when the usage is ModelMix's estimate, not
        // the upstream's report. Rows written before this step read as 0 / 0.
        """
        ALTER TABLE ledger_records ADD COLUMN client_disconnected INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE ledger_records ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
        """,

        // 6: the attempt intent journal (docs/ledger.md, "Crash consistency"). Before the proxy sends an attempt
        // upstream, one ledger_intents row holds the record the attempt becomes if its process dies before recording
        // it (status outcome_unknown, worst-case usage and cost, usage_estimated = 1), with the same columns as
        // ledger_records plus the writing instance and the budget reservation it counts against. The attempt's own
        // record deletes it in the ledger batch that inserts the record; reconciliation moves the intents of dead
        // instances (ledger_instances.heartbeat_at stale) into ledger_records.
        """
        CREATE TABLE ledger_intents (
            id                    TEXT    PRIMARY KEY,
            timestamp             INTEGER NOT NULL,
            request_id            TEXT    NOT NULL,
            upstream_request_id   TEXT,
            session_id            TEXT,
            key_id                TEXT,
            task_label            TEXT,
            requested_model       TEXT    NOT NULL,
            routed_model          TEXT    NOT NULL,
            response_model        TEXT,
            policy                TEXT,
            reason                TEXT,
            attempt               INTEGER NOT NULL,
            escalated_from        TEXT,
            input_tokens          INTEGER NOT NULL,
            output_tokens         INTEGER NOT NULL,
            cache_write_5m_tokens INTEGER NOT NULL,
            cache_write_1h_tokens INTEGER NOT NULL,
            cache_read_tokens     INTEGER NOT NULL,
            service_tier          TEXT    NOT NULL,
            speed                 TEXT    NOT NULL,
            inference_geo         TEXT,
            cost_input            TEXT,
            cost_output           TEXT,
            cost_cache_write_5m   TEXT,
            cost_cache_write_1h   TEXT,
            cost_cache_read       TEXT,
            cost_total            TEXT,
            latency_ms            INTEGER NOT NULL,
            streaming             INTEGER NOT NULL,
            status                TEXT    NOT NULL,
            http_status           INTEGER NOT NULL,
            error_type            TEXT,
            shadow_pair_id        TEXT,
            effort                  TEXT,
            effort_is_default       INTEGER NOT NULL,
            thinking_blocks_dropped INTEGER NOT NULL,
            web_search_requests     INTEGER NOT NULL,
            web_fetch_requests      INTEGER NOT NULL,
            cost_server_tools       TEXT,
            client_disconnected     INTEGER NOT NULL,
            usage_estimated         INTEGER NOT NULL,
            instance_id           TEXT    NOT NULL,
            reservation_id        TEXT
        ) STRICT;
        CREATE INDEX ix_ledger_intents_instance_id ON ledger_intents (instance_id);
        CREATE TABLE ledger_instances (
            instance_id  TEXT    PRIMARY KEY,
            heartbeat_at INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        """,
        // 7: hourly rollups (docs/ledger.md, "Rollups"), kept by the writer in each batch's transaction; built here
        // from the rows already stored. The SQL is LedgerRollupSql's, shared with PostgreSQL.
        LedgerRollupSql.CreateTableV1(LedgerSqlDialect.Sqlite) + LedgerRollupSql.BackfillV1(LedgerSqlDialect.Sqlite) + LedgerRollupSql.EscalationIndex,

        // 8: narrow intents (docs/ledger.md, "Crash consistency"). An intent holds only what reconciliation needs to
        // write the attempt's outcome_unknown record (LedgerIntent): id, start, instance, reservation, request, key,
        // session, task, models, policy, attempt, effort, streaming, shadow pair and the worst-case input and output
        // tokens; the record is built and priced at reconciliation, with the price book in force at created_at.
        // WITHOUT ROWID and no secondary index: one b-tree keyed by id, written once and deleted once per attempt
        // (reconciliation scans the few pending rows). Wide intents pending from step 6 are carried over: their
        // worst-case tokens are what their stored cost priced.
        """
        CREATE TABLE ledger_intents_narrow (
            id                TEXT    PRIMARY KEY,
            created_at        INTEGER NOT NULL,
            instance_id       TEXT    NOT NULL,
            reservation_id    TEXT,
            request_id        TEXT    NOT NULL,
            key_id            TEXT,
            session_id        TEXT,
            task_label        TEXT,
            requested_model   TEXT    NOT NULL,
            routed_model      TEXT    NOT NULL,
            policy            TEXT,
            attempt           INTEGER NOT NULL,
            escalated_from    TEXT,
            effort            TEXT,
            effort_is_default INTEGER NOT NULL,
            streaming         INTEGER NOT NULL,
            shadow_pair_id    TEXT,
            input_tokens      INTEGER NOT NULL,
            output_tokens     INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        INSERT INTO ledger_intents_narrow (id, created_at, instance_id, reservation_id, request_id, key_id, session_id,
            task_label, requested_model, routed_model, policy, attempt, escalated_from, effort, effort_is_default,
            streaming, shadow_pair_id, input_tokens, output_tokens)
        SELECT id, timestamp, instance_id, reservation_id, request_id, key_id, session_id,
            task_label, requested_model, routed_model, policy, attempt, escalated_from, effort, effort_is_default,
            streaming, shadow_pair_id, input_tokens, output_tokens FROM ledger_intents;
        DROP TABLE ledger_intents;
        ALTER TABLE ledger_intents_narrow RENAME TO ledger_intents;
        """,

        // 9: the rollups' effort_sent dimension (docs/ledger.md, "Rollups"): the table rebuilt from the raw rows of every
        // hour still whole, an hour pruned by retention carried over from its old rows (LedgerRollupSql.EffortSentMigration).
        LedgerRollupSql.EffortSentMigration(LedgerSqlDialect.Sqlite),

        // 10: escalated requests counted from a covering partial index (LedgerReadIndexes; docs/performance.md).
        LedgerReadIndexes.EscalatedRequestsSqlite,

        // 11: upstream overrun (docs/keys-and-budgets.md, "Overshoot"): the part of an attempt's cost charged to no key,
        // exact decimal text; NULL when none.
        "ALTER TABLE ledger_records ADD COLUMN overrun_usd TEXT;",

        // 12: the rollups' overrun_usd, the daily rollups and the trigger that keeps an overrun booked after its row's
        // insert in both (docs/ledger.md, "Rollups"; LedgerRollupSql.OverrunAndDailyMigration).
        LedgerRollupSql.OverrunAndDailyMigration(LedgerSqlDialect.Sqlite),

        // 13: per-session hourly sums kept by the writer, so the audit's session statistics read no raw rows
        // (docs/ledger.md, "Rollups"; LedgerRollupSql.SessionHoursMigration).
        LedgerRollupSql.SessionHoursMigration(LedgerSqlDialect.Sqlite),

        // 14: escalated requests per hour and the hours of requests escalated in several hours, kept by the writer, so the
        // escalated-request count reads raw rows of the partial hours only (docs/ledger.md, "Rollups"; LedgerEscalationRollup).
        LedgerEscalationRollup.Migration(LedgerSqlDialect.Sqlite),

        // 15: a change counter per UTC day, raised with every change to the day's rows, so the dashboard keeps a closed
        // day's audit until the day changes (docs/ledger.md, "Rollups"; LedgerDayVersions, AuditDayCache).
        LedgerDayVersions.Migration(LedgerSqlDialect.Sqlite),
    ];

    /// <summary>The schema version this code writes and understands.</summary>
    public static int LatestVersion => Migrations.Count;

    /// <summary>Every stored column except <c>seq</c>, in the order used by inserts and reads.</summary>
    public static readonly string[] Columns =
    [
        "id", "timestamp", "request_id", "upstream_request_id", "session_id", "key_id", "task_label",
        "requested_model", "routed_model", "response_model", "policy", "reason", "attempt", "escalated_from",
        "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens",
        "service_tier", "speed", "inference_geo",
        "cost_input", "cost_output", "cost_cache_write_5m", "cost_cache_write_1h", "cost_cache_read", "cost_total",
        "latency_ms", "streaming", "status", "http_status", "error_type", "shadow_pair_id",
        "effort", "effort_is_default", "thinking_blocks_dropped",
        "web_search_requests", "web_fetch_requests", "cost_server_tools",
        "client_disconnected", "usage_estimated", "overrun_usd",
    ];

    /// <summary>The idempotent insert: a record whose id is already stored is skipped, any other violation fails.</summary>
    public static readonly string InsertSql =
        $"INSERT INTO ledger_records ({string.Join(", ", Columns)}) VALUES ({string.Join(", ", Columns.Select((_, i) => "$p" + i.ToString(CultureInfo.InvariantCulture)))}) ON CONFLICT (id) DO NOTHING;";

    /// <summary>The columns of an intent (<see cref="LedgerIntent"/>), in the order of its inserts and reads.</summary>
    public const string IntentColumns =
        "id, created_at, instance_id, reservation_id, request_id, key_id, session_id, task_label, requested_model, " +
        "routed_model, policy, attempt, escalated_from, effort, effort_is_default, streaming, shadow_pair_id, input_tokens, output_tokens";

    /// <summary>The column list for reads, in <see cref="Columns"/> order.</summary>
    public static readonly string SelectColumns = string.Join(", ", Columns);

    private static readonly long UnixEpochTicks = DateTimeOffset.UnixEpoch.UtcTicks;

    /// <summary>Stored form of a timestamp: 100 ns ticks since 1970-01-01T00:00:00Z.</summary>
    public static long ToStoredTimestamp(DateTimeOffset value) => value.UtcTicks - UnixEpochTicks;

    /// <summary>Reads a stored timestamp back as a UTC <see cref="DateTimeOffset"/>.</summary>
    public static DateTimeOffset FromStoredTimestamp(long value) => new(value + UnixEpochTicks, TimeSpan.Zero);

    /// <summary>Exact decimal text in the invariant culture (never an exponent, scale preserved).</summary>
    public static string ToStoredDecimal(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Parses exact decimal text written by <see cref="ToStoredDecimal"/>.</summary>
    public static decimal FromStoredDecimal(string value) =>
        decimal.Parse(value, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);

    public static string ToCode(LedgerStatus value) => value switch
    {
        LedgerStatus.Ok => "ok",
        LedgerStatus.Error => "error",
        LedgerStatus.Failed => "failed",
        LedgerStatus.Unpriced => "unpriced",
        LedgerStatus.OutcomeUnknown => "outcome_unknown",
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown ledger status."),
    };

    public static LedgerStatus ParseStatus(string code) => code switch
    {
        "ok" => LedgerStatus.Ok,
        "error" => LedgerStatus.Error,
        "failed" => LedgerStatus.Failed,
        "unpriced" => LedgerStatus.Unpriced,
        "outcome_unknown" => LedgerStatus.OutcomeUnknown,
        _ => throw new InvalidDataException($"Unknown ledger status '{code}' in the ledger database."),
    };

    public static string ToCode(ServiceTier value) => value switch
    {
        ServiceTier.Standard => "standard",
        ServiceTier.Batch => "batch",
        ServiceTier.Priority => "priority",
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown service tier."),
    };

    public static ServiceTier ParseServiceTier(string code) => code switch
    {
        "standard" => ServiceTier.Standard,
        "batch" => ServiceTier.Batch,
        "priority" => ServiceTier.Priority,
        _ => throw new InvalidDataException($"Unknown service tier '{code}' in the ledger database."),
    };

    public static string ToCode(Speed value) => value switch
    {
        Speed.Standard => "standard",
        Speed.Fast => "fast",
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown speed."),
    };

    public static Speed ParseSpeed(string code) => code switch
    {
        "standard" => Speed.Standard,
        "fast" => Speed.Fast,
        _ => throw new InvalidDataException($"Unknown speed '{code}' in the ledger database."),
    };
}
