using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using ModelMix.Ledger;
using Npgsql;

namespace ModelMix.Postgres;

/// <summary>
/// The raw ledger as a table partitioned by month on <c>timestamp</c> (ledger step 8; docs/ledger.md, "PostgreSQL
/// partitions"): the migration, the writer's creation of missing months (no default partition: a month is created before
/// the batch that needs it, and the next month ahead of it) and retention by dropping whole partitions.
/// </summary>
public sealed partial class PostgresLedgerStore : ILedgerPartitionStore
{
    /// <summary>The advisory lock replicas take to create a month's partition one at a time.</summary>
    private const long PartitionLockKey = 0x4D4D5850415254;

    /// <summary>How long creating or dropping a partition waits for its lock on the table before failing (the writer retries).</summary>
    private const string PartitionLockTimeout = "10s";

    /// <summary>
    /// Ledger step 8: <c>ledger_records</c> becomes a table partitioned by <c>RANGE (timestamp)</c> whose primary key is
    /// <c>(id, timestamp)</c> (PostgreSQL requires the partition key in every unique constraint). The existing table is
    /// not copied: it is attached as one partition, <c>ledger_records_legacy</c>, from the lowest value to the end of
    /// the month of its newest row, after building its <c>(id, timestamp)</c> key (one index build) and checking the
    /// bound (one sequential scan); its other indexes are attached as they are. An empty table is dropped instead. New
    /// months get their own partitions (<see cref="EnsurePartitionsAsync"/>). <c>seq</c> keeps counting from the old
    /// table's last value, from a sequence (PostgreSQL 15 has no identity column on a partitioned table).
    /// </summary>
    private static string PartitionMigrationStep =>
        $"""
        DO $$
        DECLARE last_seq bigint; max_ts bigint; upper_bound bigint;
        BEGIN
          IF (SELECT relkind FROM pg_class WHERE oid = 'ledger_records'::regclass) = 'p' THEN
            RETURN; -- partitioned already (a version number rewound by hand): nothing to do
          END IF;
          ALTER TABLE ledger_records RENAME TO ledger_records_legacy;
          ALTER TABLE ledger_records_legacy RENAME CONSTRAINT ledger_records_pkey TO ledger_records_legacy_pkey;
          ALTER INDEX ix_ledger_records_timestamp RENAME TO ix_ledger_records_legacy_timestamp;
          ALTER INDEX ix_ledger_records_request_id RENAME TO ix_ledger_records_legacy_request_id;
          ALTER INDEX ix_ledger_records_key_id RENAME TO ix_ledger_records_legacy_key_id;
          ALTER INDEX ix_ledger_records_session_id RENAME TO ix_ledger_records_legacy_session_id;
          ALTER INDEX ix_ledger_records_escalated RENAME TO ix_ledger_records_legacy_escalated;
          CREATE SEQUENCE ledger_records_seq AS bigint;
          CREATE TABLE ledger_records (
              seq bigint NOT NULL DEFAULT nextval('ledger_records_seq'),
          {ColumnDefinitionsV1},
              effort                  text,
              effort_is_default       boolean NOT NULL DEFAULT false,
              thinking_blocks_dropped integer NOT NULL DEFAULT 0,
              web_search_requests     bigint  NOT NULL DEFAULT 0,
              web_fetch_requests      bigint  NOT NULL DEFAULT 0,
              cost_server_tools       numeric,
              client_disconnected     boolean NOT NULL DEFAULT false,
              usage_estimated         boolean NOT NULL DEFAULT false,
              CONSTRAINT ledger_records_check CHECK ((cost_input IS NULL) = (cost_output IS NULL)
                 AND (cost_input IS NULL) = (cost_cache_write_5m IS NULL)
                 AND (cost_input IS NULL) = (cost_cache_write_1h IS NULL)
                 AND (cost_input IS NULL) = (cost_cache_read IS NULL)
                 AND (cost_input IS NULL) = (cost_total IS NULL)),
              CONSTRAINT pk_ledger_records PRIMARY KEY (id, timestamp)
          ) PARTITION BY RANGE (timestamp);
          ALTER SEQUENCE ledger_records_seq OWNED BY ledger_records.seq;
          CREATE INDEX ix_ledger_records_timestamp ON ledger_records (timestamp);
          CREATE INDEX ix_ledger_records_request_id ON ledger_records (request_id);
          CREATE INDEX ix_ledger_records_key_id ON ledger_records (key_id, timestamp);
          CREATE INDEX ix_ledger_records_session_id ON ledger_records (session_id, timestamp);
          CREATE INDEX ix_ledger_records_escalated ON ledger_records (timestamp) WHERE escalated_from IS NOT NULL;
          SELECT max(seq), max(timestamp) INTO last_seq, max_ts FROM ledger_records_legacy;
          IF max_ts IS NULL THEN
            DROP TABLE ledger_records_legacy;
          ELSE
            PERFORM setval('ledger_records_seq', last_seq);
            ALTER TABLE ledger_records_legacy ALTER COLUMN seq DROP IDENTITY;
            ALTER TABLE ledger_records_legacy DROP CONSTRAINT ledger_records_legacy_pkey;
            upper_bound := (extract(epoch FROM date_trunc('month', to_timestamp(max_ts / 10000000) AT TIME ZONE 'UTC') + interval '1 month')::bigint) * 10000000;
            EXECUTE format('ALTER TABLE ledger_records ATTACH PARTITION ledger_records_legacy FOR VALUES FROM (MINVALUE) TO (%s)', upper_bound);
            DROP INDEX ux_ledger_records_id;
          END IF;
        END $$;
        """;

    private static readonly Regex PartitionBound = new(
        @"FROM \((?:MINVALUE|'?(?<from>-?\d+)'?)\) TO \((?:MAXVALUE|'?(?<to>-?\d+)'?)\)", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    /// <summary>The first instants (stored ticks) of the months this process knows a partition covers.</summary>
    private readonly ConcurrentDictionary<long, bool> _partitionMonths = new();

    /// <summary>The month of <paramref name="ticks"/> (stored ticks): its first instant, in stored ticks.</summary>
    internal static long MonthStart(long ticks)
    {
        var at = SqliteLedgerSchema.FromStoredTimestamp(ticks).UtcDateTime;
        return SqliteLedgerSchema.ToStoredTimestamp(new DateTimeOffset(at.Year, at.Month, 1, 0, 0, 0, TimeSpan.Zero));
    }

    /// <summary>The month after the one starting at <paramref name="monthStart"/>.</summary>
    internal static long NextMonth(long monthStart) =>
        SqliteLedgerSchema.ToStoredTimestamp(SqliteLedgerSchema.FromStoredTimestamp(monthStart).AddMonths(1));

    /// <summary>The name of the partition of the month starting at <paramref name="monthStart"/>, e.g. <c>ledger_records_y2026m12</c>.</summary>
    internal static string PartitionName(long monthStart)
    {
        var at = SqliteLedgerSchema.FromStoredTimestamp(monthStart).UtcDateTime;
        return string.Create(CultureInfo.InvariantCulture, $"ledger_records_y{at.Year:D4}m{at.Month:D2}");
    }

    /// <summary>
    /// Makes sure a partition covers the month of every timestamp of <paramref name="timestamps"/>, and the month after
    /// it (created ahead, so the writer's first batch of a month never waits for its creation). A month this process
    /// has seen covered costs a dictionary lookup; a missing one is created in its own short transaction, before the
    /// batch's, under an advisory lock (two replicas never race on it) and a lock timeout. A missing month of the batch
    /// that cannot be created fails the batch (the writer retries it); a month ahead that cannot is tried again later.
    /// </summary>
    private async Task EnsurePartitionsAsync(IEnumerable<long> timestamps, CancellationToken cancellationToken)
    {
        List<(long Month, bool Ahead)>? missing = null;
        var last = long.MinValue;
        foreach (var ticks in timestamps)
        {
            var month = MonthStart(ticks);
            if (month == last)
            {
                continue;
            }

            last = month;
            foreach (var (needed, ahead) in (ReadOnlySpan<(long, bool)>)[(month, false), (NextMonth(month), true)])
            {
                if (!_partitionMonths.ContainsKey(needed) && !(missing?.Exists(m => m.Month == needed) ?? false))
                {
                    (missing ??= []).Add((needed, ahead));
                }
            }
        }

        if (missing is null)
        {
            return;
        }

        await using var connection = await _database.OpenAsync(cancellationToken);
        foreach (var (month, ahead) in missing)
        {
            try
            {
                await CreatePartitionAsync(connection, month, cancellationToken);
            }
            catch (PostgresException) when (ahead)
            {
                continue; // e.g. a lock timeout behind a long query: the next batch tries again
            }

            _partitionMonths[month] = true;
        }
    }

    /// <summary>
    /// Creates the month's partition unless a partition covers it already. The table is created on its own and then
    /// attached: <c>ATTACH PARTITION</c> takes only a <c>SHARE UPDATE EXCLUSIVE</c> lock on the ledger, which neither
    /// waits for nor blocks its readers and writers (a <c>CREATE TABLE … PARTITION OF</c> would take an exclusive lock,
    /// queueing every ledger query behind the longest one running); an empty table is checked against its bound at once.
    /// </summary>
    private static async Task CreatePartitionAsync(NpgsqlConnection connection, long month, CancellationToken cancellationToken)
    {
        var name = PartitionName(month);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await PostgresDatabase.ExecuteAsync(connection, transaction,
            $"SELECT pg_advisory_xact_lock({PartitionLockKey}); SET LOCAL lock_timeout = '{PartitionLockTimeout}';", cancellationToken);
        if (await PartitionOfLedgerAsync(connection, transaction, name, cancellationToken) is not null)
        {
            return;
        }

        try
        {
            await PostgresDatabase.ExecuteAsync(connection, transaction,
                $"CREATE TABLE IF NOT EXISTS {name} (LIKE ledger_records INCLUDING DEFAULTS INCLUDING CONSTRAINTS); " +
                $"ALTER TABLE ledger_records ATTACH PARTITION {name} FOR VALUES FROM ({month}) TO ({NextMonth(month)});",
                cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidObjectDefinition)
        {
            return; // "would overlap partition …": the month is inside another partition (the migrated table's range)
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Forgets which months have partitions (a prune may have dropped one this process saw), after a failed write.</summary>
    private void ForgetPartitions() => _partitionMonths.Clear();

    /// <inheritdoc />
    public async Task<IReadOnlyList<LedgerPartition>> ListPartitionsAsync(CancellationToken cancellationToken = default)
    {
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid " +
            "WHERE i.inhparent = 'ledger_records'::regclass;", connection);
        var partitions = new List<LedgerPartition>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var bound = PartitionBound.Match(reader.GetString(1));
                if (!bound.Success)
                {
                    continue; // not a range partition this code made: left alone
                }

                partitions.Add(new LedgerPartition(
                    reader.GetString(0),
                    bound.Groups["from"].Success ? SqliteLedgerSchema.FromStoredTimestamp(long.Parse(bound.Groups["from"].Value, CultureInfo.InvariantCulture)) : null,
                    bound.Groups["to"].Success ? SqliteLedgerSchema.FromStoredTimestamp(long.Parse(bound.Groups["to"].Value, CultureInfo.InvariantCulture)) : null));
            }
        }

        partitions.Sort((a, b) => Nullable.Compare(a.From, b.From));
        return partitions;
    }

    /// <inheritdoc />
    public async Task<bool> DropPartitionAsync(LedgerPartition partition, LedgerPartitionContents expected, CancellationToken cancellationToken = default)
    {
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var name = await PartitionOfLedgerAsync(connection, transaction, partition.Name, cancellationToken);
        if (name is null)
        {
            return true; // dropped already (an earlier prune)
        }

        // SHARE on the partition alone: its rows cannot change while they are checked (writers of other months and
        // readers go on); the ledger itself is locked only by the DETACH, for as long as the catalog change takes.
        await PostgresDatabase.ExecuteAsync(connection, transaction,
            $"SET LOCAL lock_timeout = '{PartitionLockTimeout}'; LOCK TABLE {name} IN SHARE MODE;", cancellationToken);
        await using (var check = new NpgsqlCommand(
            $"SELECT COUNT(*), COALESCE(SUM(cost_total), 0), COALESCE(SUM(('x' || substr(md5(id), 1, 15))::bit(60)::bigint), 0) FROM {name};",
            connection, transaction))
        {
            await using var reader = await check.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            if (reader.GetInt64(0) != expected.Rows || reader.GetDecimal(1) != expected.CostTotal || reader.GetDecimal(2) != expected.IdChecksum)
            {
                return false;
            }
        }

        // The partition's days change (LedgerDayVersions; every raw row's day has a daily rollup row, which stays).
        var range = string.Join(" AND ", new[]
        {
            "true",
            partition.From is { } f ? $"hour >= {LedgerRollupReader.FloorDay(f).ToString(CultureInfo.InvariantCulture)}" : null,
            partition.To is { } t ? $"hour < {LedgerRollupReader.CeilingDay(t).ToString(CultureInfo.InvariantCulture)}" : null,
        }.OfType<string>());
        await PostgresDatabase.ExecuteAsync(connection, transaction,
            LedgerDayVersions.BumpFrom("hour", LedgerRollupSql.DailyTable, range) +
            $"ALTER TABLE ledger_records DETACH PARTITION {name}; DROP TABLE {name};", cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        ForgetPartitions();
        return true;
    }

    /// <summary>The quoted name of <paramref name="name"/> when it is a partition of the ledger, else null.</summary>
    private static async Task<string?> PartitionOfLedgerAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string name, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT quote_ident(c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid " +
            "WHERE i.inhparent = 'ledger_records'::regclass AND c.relname = $1;", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }
}
