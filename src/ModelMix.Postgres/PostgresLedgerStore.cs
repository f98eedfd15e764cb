using System.Data.Common;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Ledger;
using ModelMix.Pricing;
using Npgsql;
using NpgsqlTypes;

namespace ModelMix.Postgres;

/// <summary>
/// The shared ledger store: a PostgreSQL table that several proxy replicas write to at once. Same contract as
/// <c>SqliteLedgerStore</c>: a batch is one transaction, a record whose id is already stored is skipped (so
/// replicas and replays never count twice), reads see committed records in timestamp order. Costs are
/// <c>numeric</c> and summed by PostgreSQL exactly; timestamps are 100 ns ticks since the Unix epoch, as in SQLite,
/// so every instant round-trips exactly. A batch is sent with binary <c>COPY</c> into a temporary table and moved
/// into the ledger by one <c>INSERT … ON CONFLICT (id, timestamp) DO NOTHING</c> (the table is partitioned by month:
/// PostgresLedgerStore.Partitions.cs).
/// </summary>
public sealed partial class PostgresLedgerStore : IAttemptJournalStore
{
    /// <summary>The component name in <c>modelmix_schema_versions</c>.</summary>
    public const string Component = "ledger";

    /// <summary>
    /// The columns of ledger step 1 (every stored column but <c>seq</c>, with its type), as that step shipped: part of
    /// migration 1 and of the batch's temporary table. Never edit it; later steps add columns (<see cref="AddedColumnDefinitions"/>).
    /// </summary>
    private const string ColumnDefinitionsV1 =
        """
            id                    text    NOT NULL,
            timestamp             bigint  NOT NULL,
            request_id            text    NOT NULL,
            upstream_request_id   text,
            session_id            text,
            key_id                text,
            task_label            text,
            requested_model       text    NOT NULL,
            routed_model          text    NOT NULL,
            response_model        text,
            policy                text,
            reason                text,
            attempt               integer NOT NULL,
            escalated_from        text,
            input_tokens          bigint  NOT NULL,
            output_tokens         bigint  NOT NULL,
            cache_write_5m_tokens bigint  NOT NULL,
            cache_write_1h_tokens bigint  NOT NULL,
            cache_read_tokens     bigint  NOT NULL,
            service_tier          text    NOT NULL,
            speed                 text    NOT NULL,
            inference_geo         text,
            cost_input            numeric,
            cost_output           numeric,
            cost_cache_write_5m   numeric,
            cost_cache_write_1h   numeric,
            cost_cache_read       numeric,
            cost_total            numeric,
            latency_ms            bigint  NOT NULL,
            streaming             boolean NOT NULL,
            status                text    NOT NULL,
            http_status           integer NOT NULL,
            error_type            text,
            shadow_pair_id        text
        """;

    /// <summary>
    /// The columns later steps added (step 2: effort and dropped thinking; step 3: server-tool uses and fees; step 4:
    /// hang-ups and estimates), as the batch's temporary table declares them.
    /// </summary>
    private const string AddedColumnDefinitions =
        """
            effort                  text,
            effort_is_default       boolean NOT NULL,
            thinking_blocks_dropped integer NOT NULL,
            web_search_requests     bigint  NOT NULL,
            web_fetch_requests      bigint  NOT NULL,
            cost_server_tools       numeric,
            client_disconnected     boolean NOT NULL,
            usage_estimated         boolean NOT NULL
        """;

    /// <summary>Migrations in order (append only: never edit a step that has shipped).</summary>
    private static readonly string[] Migrations =
    [
        // 1: the ledger table, the same columns and indexes as SQLite's (SqliteLedgerSchema), costs as exact numeric.
        $"""
        CREATE TABLE ledger_records (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        {ColumnDefinitionsV1},
            CHECK ((cost_input IS NULL) = (cost_output IS NULL)
               AND (cost_input IS NULL) = (cost_cache_write_5m IS NULL)
               AND (cost_input IS NULL) = (cost_cache_write_1h IS NULL)
               AND (cost_input IS NULL) = (cost_cache_read IS NULL)
               AND (cost_input IS NULL) = (cost_total IS NULL))
        );
        CREATE UNIQUE INDEX ux_ledger_records_id ON ledger_records (id);
        CREATE INDEX ix_ledger_records_timestamp ON ledger_records (timestamp);
        CREATE INDEX ix_ledger_records_request_id ON ledger_records (request_id);
        CREATE INDEX ix_ledger_records_key_id ON ledger_records (key_id, timestamp);
        CREATE INDEX ix_ledger_records_session_id ON ledger_records (session_id, timestamp);
        """,

        // 2: effort and dropped thinking, as SQLite's step 3 (docs/ledger.md). Rows written before it read as
        // NULL / false / 0. ADD COLUMN with a constant default rewrites nothing (PostgreSQL 11+).
        """
        ALTER TABLE ledger_records
            ADD COLUMN effort text,
            ADD COLUMN effort_is_default boolean NOT NULL DEFAULT false,
            ADD COLUMN thinking_blocks_dropped integer NOT NULL DEFAULT 0;
        """,

        // 3: server-tool uses and their fees, as SQLite's step 4 (docs/ledger.md). cost_server_tools is in cost_total;
        // NULL when unpriced and on rows written before this step (read as no use and no fee).
        """
        ALTER TABLE ledger_records
            ADD COLUMN web_search_requests bigint NOT NULL DEFAULT 0,
            ADD COLUMN web_fetch_requests bigint NOT NULL DEFAULT 0,
            ADD COLUMN cost_server_tools numeric;
        """,

        // 4: clients that hang up and estimated usage, as SQLite's step 5 (docs/ledger.md). Earlier rows read false / false.
        """
        ALTER TABLE ledger_records
            ADD COLUMN client_disconnected boolean NOT NULL DEFAULT false,
            ADD COLUMN usage_estimated boolean NOT NULL DEFAULT false;
        """,

        // 5: the attempt intent journal, as SQLite's step 6 (docs/ledger.md, "Crash consistency"): the record an
        // attempt becomes if its replica dies before recording it, plus the writing instance and its reservation;
        // the instances' heartbeats say which replicas are dead.
        $"""
        CREATE TABLE ledger_intents (
        {ColumnDefinitionsV1},
        {AddedColumnDefinitions},
            instance_id    text NOT NULL,
            reservation_id text,
            PRIMARY KEY (id)
        );
        CREATE INDEX ix_ledger_intents_instance_id ON ledger_intents (instance_id);
        CREATE TABLE ledger_instances (
            instance_id  text   PRIMARY KEY,
            heartbeat_at bigint NOT NULL
        );
        """,
        // 6: hourly rollups (docs/ledger.md, "Rollups"), kept by each batch's move; built here from the rows already
        // stored. The SQL is LedgerRollupSql's, shared with SQLite.
        PostgresLedgerRollups.MigrationStep,

        // 7: narrow intents, as SQLite's step 8 (docs/ledger.md, "Crash consistency"): only what reconciliation needs
        // to build and price the attempt's outcome_unknown record; no secondary index (one b-tree written and deleted
        // per attempt). Wide intents pending from step 5 are carried over with their worst-case tokens.
        """
        CREATE TABLE ledger_intents_narrow (
            id                text    NOT NULL,
            created_at        bigint  NOT NULL,
            instance_id       text    NOT NULL,
            reservation_id    text,
            request_id        text    NOT NULL,
            key_id            text,
            session_id        text,
            task_label        text,
            requested_model   text    NOT NULL,
            routed_model      text    NOT NULL,
            policy            text,
            attempt           integer NOT NULL,
            escalated_from    text,
            effort            text,
            effort_is_default boolean NOT NULL,
            streaming         boolean NOT NULL,
            shadow_pair_id    text,
            input_tokens      bigint  NOT NULL,
            output_tokens     bigint  NOT NULL,
            CONSTRAINT pk_ledger_intents PRIMARY KEY (id)
        );
        INSERT INTO ledger_intents_narrow (id, created_at, instance_id, reservation_id, request_id, key_id, session_id,
            task_label, requested_model, routed_model, policy, attempt, escalated_from, effort, effort_is_default,
            streaming, shadow_pair_id, input_tokens, output_tokens)
        SELECT id, timestamp, instance_id, reservation_id, request_id, key_id, session_id,
            task_label, requested_model, routed_model, policy, attempt, escalated_from, effort, effort_is_default,
            streaming, shadow_pair_id, input_tokens, output_tokens FROM ledger_intents;
        DROP TABLE ledger_intents;
        ALTER TABLE ledger_intents_narrow RENAME TO ledger_intents;
        """,

        // 8: the raw ledger partitioned by month on timestamp, key (id, timestamp); the existing table attached as one
        // partition (docs/ledger.md, "PostgreSQL partitions"; PostgresLedgerStore.Partitions.cs).
        PartitionMigrationStep,

        // 9: the rollups' effort_sent dimension, as SQLite's step 9 (LedgerRollupSql.EffortSentMigration).
        PostgresLedgerRollups.EffortSentMigrationStep,

        // 10: escalated requests counted from a covering partial index, as SQLite's step 10 (LedgerReadIndexes).
        LedgerReadIndexes.EscalatedRequestsPostgres,

        // 11: upstream overrun, as SQLite's step 11 (docs/keys-and-budgets.md, "Overshoot"): charged to no key; NULL when none.
        "ALTER TABLE ledger_records ADD COLUMN overrun_usd numeric;",

        // 12: the rollups' overrun_usd, the daily rollups and the trigger that keeps an overrun booked after its row's
        // insert in both (docs/ledger.md, "Rollups"; LedgerRollupSql.OverrunAndDailyMigration).
        PostgresLedgerRollups.OverrunAndDailyMigrationStep,

        // 13: per-session hourly sums kept by the writer, as SQLite's step 13 (LedgerRollupSql.SessionHoursMigration).
        PostgresLedgerRollups.SessionHoursMigrationStep,

        // 14: escalated requests per hour and the hours of requests escalated in several hours, as SQLite's step 14
        // (LedgerEscalationRollup).
        LedgerEscalationRollup.Migration(LedgerSqlDialect.Postgres),

        // 15: a change counter per UTC day, as SQLite's step 15 (LedgerDayVersions).
        LedgerDayVersions.Migration(LedgerSqlDialect.Postgres),
    ];

    private static readonly string CreateBatchTable =
        $"CREATE TEMPORARY TABLE ledger_batch (ord integer NOT NULL,\n{ColumnDefinitionsV1},\n{AddedColumnDefinitions},\n    overrun_usd numeric) ON COMMIT DROP;";

    private static readonly string CopyBatch = $"COPY ledger_batch (ord, {SqliteLedgerSchema.SelectColumns}) FROM STDIN (FORMAT BINARY)";

    private static readonly string MoveBatch =
        $"INSERT INTO ledger_records ({SqliteLedgerSchema.SelectColumns}) SELECT {SqliteLedgerSchema.SelectColumns} FROM ledger_batch ORDER BY ord ON CONFLICT (id, timestamp) DO NOTHING;";

    private static readonly string MoveBatchWithRollups = PostgresLedgerRollups.WithRollups(MoveBatch);

    private readonly PostgresDatabase _database;
    private readonly ILogger _logger;
    private bool _migrated;
    private int _disposed;

    /// <summary>Creates a store over the PostgreSQL database of <paramref name="connectionString"/> (an Npgsql connection string).</summary>
    /// <param name="connectionString">Host, port, database, user and password; see <see cref="Stores.StoreLocation"/> for the URL form.</param>
    /// <param name="logger">Receives migration messages; optional.</param>
    public PostgresLedgerStore(string connectionString, ILogger<PostgresLedgerStore>? logger = null)
    {
        _database = new PostgresDatabase(connectionString);
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>The database for messages: host, port, database and user, never the password.</summary>
    public string Location => _database.Display;

    /// <summary>The schema version this code creates and understands.</summary>
    public static int SchemaVersion => Migrations.Length;

    /// <summary>The migration steps (tests build older schemas from them).</summary>
    internal static IReadOnlyList<string> MigrationSteps => Migrations;

    /// <inheritdoc />
    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        foreach (var version in await _database.MigrateAsync(Component, Migrations, cancellationToken))
        {
            LedgerLog.MigrationApplied(_logger, _database.Display, version);
        }

        await MigrateShadowPairsAsync(cancellationToken);
        _migrated = true;
        var now = SqliteLedgerSchema.ToStoredTimestamp(TimeProvider.System.GetUtcNow());
        await EnsurePartitionsAsync([now], cancellationToken); // this month and the next, ahead of the first write
    }

    /// <inheritdoc />
    public Task WriteBatchAsync(IReadOnlyList<LedgerRecord> records, CancellationToken cancellationToken = default) =>
        CommitAsync(records, [], cancellationToken);

    /// <inheritdoc />
    public async Task CommitAsync(IReadOnlyList<LedgerRecord> records, IReadOnlyList<ReservationSettlement> settlements, CancellationToken cancellationToken = default)
    {
        if (!LedgerRecordRules.RequireCommit(records, settlements))
        {
            return;
        }

        EnsureReadable();
        await EnsurePartitionsAsync(records.Select(record => SqliteLedgerSchema.ToStoredTimestamp(record.Timestamp)), cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await PostgresDatabase.ExecuteAsync(connection, transaction, CreateBatchTable, cancellationToken);
        await using (var importer = await connection.BeginBinaryImportAsync(CopyBatch, cancellationToken))
        {
            for (var i = 0; i < records.Count; i++)
            {
                await WriteRowAsync(importer, i, records[i], cancellationToken);
            }

            await importer.CompleteAsync(cancellationToken);
        }

        try
        {
            await PostgresDatabase.ExecuteAsync(connection, transaction, MoveBatchWithRollups, cancellationToken); // + hourly rollups of the rows inserted
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.CheckViolation)
        {
            ForgetPartitions(); // "no partition of relation found for row": a partition was dropped since; the retry creates it
            throw;
        }

        var leaseOverruns = await PostgresBudgetStore.ChargeLeasedRecordsAsync(connection, transaction, CompleteIntents, cancellationToken); // + budget leases
        var overruns = await PostgresBudgetStore.SettleFromLedgerAsync(connection, transaction, settlements, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        Budgets.BudgetOverrunMetrics.Report(leaseOverruns);
        Budgets.BudgetOverrunMetrics.Report(overruns);
    }

    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRecord> ReadAsync(LedgerQuery query, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.ReadAsync(Dialect, OpenCheckedReaderAsync, query, cancellationToken);

    /// <inheritdoc />
    public async Task<LedgerTotals> GetTotalsAsync(LedgerQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var source = FromClause(command, query, LedgerTotalsRow.Columns);

        // SUM over numeric is exact in PostgreSQL; SUM over bigint is numeric too, cast back (overflow fails loudly).
        command.CommandText =
            $"""
            SELECT COUNT(*), COUNT(*) - COUNT(cost_input),
                   COALESCE(SUM(input_tokens), 0)::bigint, COALESCE(SUM(output_tokens), 0)::bigint,
                   COALESCE(SUM(cache_write_5m_tokens), 0)::bigint, COALESCE(SUM(cache_write_1h_tokens), 0)::bigint,
                   COALESCE(SUM(cache_read_tokens), 0)::bigint,
                   COALESCE(SUM(cost_input), 0), COALESCE(SUM(cost_output), 0),
                   COALESCE(SUM(cost_cache_write_5m), 0), COALESCE(SUM(cost_cache_write_1h), 0),
                   COALESCE(SUM(cost_cache_read), 0),
                   COALESCE(SUM(web_search_requests), 0)::bigint, COALESCE(SUM(web_fetch_requests), 0)::bigint,
                   COALESCE(SUM(cost_server_tools), 0)
            FROM {source};
            """;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return LedgerTotals.Empty;
        }

        return LedgerTotalsRow.Read(reader, s_money); // sums are numeric
    }

    /// <inheritdoc />
    public async Task<long> CountAsync(LedgerQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {FromClause(command, query, "seq")};";
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Closes the pooled connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _database.DisposeAsync();
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private void EnsureReadable()
    {
        ThrowIfDisposed();
        if (!_migrated)
        {
            throw new InvalidOperationException(
                $"The ledger store '{_database.Display}' has not been migrated: call {nameof(MigrateAsync)} before using it.");
        }
    }

    /// <summary>Opens a pooled connection once the store is known to be readable (not disposed, migrated).</summary>
    private async Task<DbConnection> OpenCheckedReaderAsync(CancellationToken cancellationToken)
    {
        EnsureReadable();
        return await _database.OpenAsync(cancellationToken);
    }

    /// <summary>Runs <paramref name="work"/> (the shared SQL of <see cref="LedgerStoreSql"/>) in a transaction of a pooled connection.</summary>
    private async Task<T> InWriteTransactionAsync<T>(
        Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var result = await work(connection, transaction);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    private static async Task WriteRowAsync(NpgsqlBinaryImporter importer, int? ordinal, LedgerRecord r, CancellationToken cancellationToken)
    {
        var usage = r.Usage;
        await importer.StartRowAsync(cancellationToken);
        if (ordinal is { } ord)
        {
            await importer.WriteAsync(ord, NpgsqlDbType.Integer, cancellationToken);
        }

        await importer.WriteAsync(r.Id, NpgsqlDbType.Text, cancellationToken);
        await importer.WriteAsync(SqliteLedgerSchema.ToStoredTimestamp(r.Timestamp), NpgsqlDbType.Bigint, cancellationToken);
        await importer.WriteAsync(r.RequestId, NpgsqlDbType.Text, cancellationToken);
        await WriteTextAsync(importer, r.UpstreamRequestId, cancellationToken);
        await WriteTextAsync(importer, r.SessionId, cancellationToken);
        await WriteTextAsync(importer, r.KeyId, cancellationToken);
        await WriteTextAsync(importer, r.TaskLabel, cancellationToken);
        await importer.WriteAsync(r.RequestedModel, NpgsqlDbType.Text, cancellationToken);
        await importer.WriteAsync(r.RoutedModel, NpgsqlDbType.Text, cancellationToken);
        await WriteTextAsync(importer, r.ResponseModel, cancellationToken);
        await WriteTextAsync(importer, r.Policy, cancellationToken);
        await WriteTextAsync(importer, r.Reason, cancellationToken);
        await importer.WriteAsync(r.Attempt, NpgsqlDbType.Integer, cancellationToken);
        await WriteTextAsync(importer, r.EscalatedFrom, cancellationToken);
        await importer.WriteAsync(usage.InputTokens, NpgsqlDbType.Bigint, cancellationToken);
        await importer.WriteAsync(usage.OutputTokens, NpgsqlDbType.Bigint, cancellationToken);
        await importer.WriteAsync(usage.CacheWrite5mTokens, NpgsqlDbType.Bigint, cancellationToken);
        await importer.WriteAsync(usage.CacheWrite1hTokens, NpgsqlDbType.Bigint, cancellationToken);
        await importer.WriteAsync(usage.CacheReadTokens, NpgsqlDbType.Bigint, cancellationToken);
        await importer.WriteAsync(SqliteLedgerSchema.ToCode(usage.ServiceTier), NpgsqlDbType.Text, cancellationToken);
        await importer.WriteAsync(SqliteLedgerSchema.ToCode(usage.Speed), NpgsqlDbType.Text, cancellationToken);
        await WriteTextAsync(importer, usage.InferenceGeo, cancellationToken);
        if (r.Cost is { } cost)
        {
            await importer.WriteAsync(cost.Input, NpgsqlDbType.Numeric, cancellationToken);
            await importer.WriteAsync(cost.Output, NpgsqlDbType.Numeric, cancellationToken);
            await importer.WriteAsync(cost.CacheWrite5m, NpgsqlDbType.Numeric, cancellationToken);
            await importer.WriteAsync(cost.CacheWrite1h, NpgsqlDbType.Numeric, cancellationToken);
            await importer.WriteAsync(cost.CacheRead, NpgsqlDbType.Numeric, cancellationToken);
            await importer.WriteAsync(cost.Total, NpgsqlDbType.Numeric, cancellationToken);
        }
        else
        {
            for (var i = 0; i < 6; i++)
            {
                await importer.WriteNullAsync(cancellationToken);
            }
        }

        await importer.WriteAsync(r.LatencyMs, NpgsqlDbType.Bigint, cancellationToken);
        await importer.WriteAsync(r.Streaming, NpgsqlDbType.Boolean, cancellationToken);
        await importer.WriteAsync(SqliteLedgerSchema.ToCode(r.Status), NpgsqlDbType.Text, cancellationToken);
        await importer.WriteAsync(r.HttpStatus, NpgsqlDbType.Integer, cancellationToken);
        await WriteTextAsync(importer, r.ErrorType, cancellationToken);
        await WriteTextAsync(importer, r.ShadowPairId, cancellationToken);
        await WriteTextAsync(importer, r.Effort, cancellationToken);
        await importer.WriteAsync(r.EffortIsDefault, NpgsqlDbType.Boolean, cancellationToken);
        await importer.WriteAsync(r.ThinkingBlocksDropped, NpgsqlDbType.Integer, cancellationToken);
        await importer.WriteAsync(usage.WebSearchRequests, NpgsqlDbType.Bigint, cancellationToken);
        await importer.WriteAsync(usage.WebFetchRequests, NpgsqlDbType.Bigint, cancellationToken);
        if (r.Cost is { } fees)
        {
            await importer.WriteAsync(fees.ServerTools, NpgsqlDbType.Numeric, cancellationToken);
        }
        else
        {
            await importer.WriteNullAsync(cancellationToken);
        }
        await importer.WriteAsync(r.ClientDisconnected, NpgsqlDbType.Boolean, cancellationToken);
        await importer.WriteAsync(r.UsageEstimated, NpgsqlDbType.Boolean, cancellationToken);
        if (r.OverrunUsd is { } overrun)
        {
            await importer.WriteAsync(overrun, NpgsqlDbType.Numeric, cancellationToken);
        }
        else
        {
            await importer.WriteNullAsync(cancellationToken);
        }
    }

    private static Task WriteTextAsync(NpgsqlBinaryImporter importer, string? value, CancellationToken cancellationToken) =>
        value is null ? importer.WriteNullAsync(cancellationToken) : importer.WriteAsync(value, NpgsqlDbType.Text, cancellationToken);

    /// <summary>A row as a record: the mapping both backends share (<see cref="LedgerRows"/>); money is <c>numeric</c>, flags <c>boolean</c>.</summary>
    private static LedgerRecord ReadRecord(NpgsqlDataReader r) => LedgerRows.Read(r, s_money, s_flag);

    /// <summary>How the shared ledger SQL (<see cref="LedgerStoreSql"/>) is spelled here: <c>@</c> parameters, ids compared byte by byte, money as <c>numeric</c>, id lists as text arrays.</summary>
    private static readonly LedgerStoreDialect Dialect = new()
    {
        Marker = '@',
        Id = "id COLLATE \"C\"",
        ReadRecord = static reader => ReadRecord((NpgsqlDataReader)reader),
        ReadMoney = static (reader, i) => reader.GetDecimal(i),
        ReadFlag = static (reader, i) => reader.GetBoolean(i),
        AggregateTimeout = 0, // one aggregate over the range's rows: the first row comes at the end (the token still cancels)
        AddSumFunctions = null, // numeric is summed natively
        IdIn = static parameter => $"id = ANY({parameter})",
        IdList = static rows => rows.Select(row => row.Id).ToArray(),
        Sql = LedgerSqlDialect.Postgres,
        False = "false",
        ForUpdate = " FOR UPDATE",
        LockRollups = $"LOCK TABLE {LedgerRollupSql.Table} IN SHARE ROW EXCLUSIVE MODE;", // writers wait while the hours are recomputed
        StoredMoney = static money => money,
        RecomputeHours = static async (connection, transaction, from, to, cancellationToken) =>
        {
            await using var recompute = new NpgsqlCommand(PostgresLedgerRollups.RecomputeSql, (NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
            recompute.Parameters.AddWithValue("from", from);
            recompute.Parameters.AddWithValue("to", to);
            await recompute.ExecuteNonQueryAsync(cancellationToken);
        },
    };

    private static readonly Func<NpgsqlDataReader, int, decimal> s_money = static (r, i) => r.GetDecimal(i);
    private static readonly Func<NpgsqlDataReader, int, bool> s_flag = static (r, i) => r.GetBoolean(i);

    private static string FromClause(NpgsqlCommand command, LedgerQuery query, string columns) =>
        LedgerQuerySource.From(query, columns, '@', Parameters(command), alias: " AS selected");

    private static Action<string, object> Parameters(NpgsqlCommand command) => (name, value) => command.Parameters.AddWithValue(name, value);
}
