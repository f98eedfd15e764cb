using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// The PostgreSQL raw ledger partitioned by month (ledger step 8; docs/ledger.md, "PostgreSQL partitions"), on a real
/// server: the migration of a populated table at the previous step, the writer's creation of missing months, the key
/// (id, timestamp) that every writer of an id shares, and retention by dropping whole partitions.
/// </summary>
public sealed class PostgresLedgerPartitionTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Jan10 = new(2026, 1, 10, 5, 13, 0, TimeSpan.Zero);

    private PostgresServer _server = null!;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-pg-partitions-" + Guid.NewGuid().ToString("N"));

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.GetAsync();
        Directory.CreateDirectory(_folder);
    }

    public Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }

        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_populated_ledger_at_the_previous_step_is_attached_as_one_partition_and_new_months_get_their_own()
    {
        // The rows an older ModelMix wrote (January and February), copied into a database at the previous step (7) before
        // its rollup step ran, so that step backfilled their rollups as it did for real databases.
        var old = LedgerTraffic.Generate(600, seed: 11, Jan10, TimeSpan.FromHours(1.7)); // Jan 10 .. Feb 21
        Assert.True(old[^1].Timestamp.Month == 2);
        var source = await _server.CreateDatabaseAsync("partsrc");
        await using (var writer = new PostgresLedgerStore(source))
        {
            await writer.MigrateAsync();
            await writer.WriteBatchAsync(old);
        }

        var target = await _server.CreateDatabaseAsync("partold");
        var steps = PostgresLedgerStore.MigrationSteps;
        const int partitionStep = 8; // the steps after it run with it, on the partitioned table
        Assert.Contains("PARTITION BY RANGE", steps[partitionStep - 1], StringComparison.Ordinal);
        var rollupStep = steps.ToList().FindIndex(step => step.Contains("CREATE TABLE ledger_rollups", StringComparison.Ordinal));
        await using (var connection = new NpgsqlConnection(target))
        {
            await connection.OpenAsync();
            foreach (var step in steps.Take(rollupStep))
            {
                await ExecuteAsync(connection, step);
            }

            await CopyRowsAsync(source, connection);
            foreach (var step in steps.Skip(rollupStep).Take(partitionStep - 1 - rollupStep))
            {
                await ExecuteAsync(connection, step);
            }

            await ExecuteAsync(connection, $"CREATE TABLE modelmix_schema_versions (component text PRIMARY KEY, version integer NOT NULL); INSERT INTO modelmix_schema_versions VALUES ('ledger', {partitionStep - 1});");
            Assert.Equal("r", await ScalarAsync<string>(connection, "SELECT relkind::text FROM pg_class WHERE relname = 'ledger_records';"));
        }

        await using var store = new PostgresLedgerStore(target);
        await store.MigrateAsync();
        await using (var connection = new NpgsqlConnection(target))
        {
            await connection.OpenAsync();
            Assert.Equal("p", await ScalarAsync<string>(connection, "SELECT relkind::text FROM pg_class WHERE relname = 'ledger_records';"));
            Assert.Equal(PostgresLedgerStore.SchemaVersion, await ScalarAsync<int>(connection, "SELECT version FROM modelmix_schema_versions WHERE component = 'ledger';"));
        }

        // The old table is one partition, up to the end of its newest row's month (March 1st); the migration also made
        // this month's and next month's partitions.
        var partitions = await store.ListPartitionsAsync();
        var legacy = Assert.Single(partitions, p => p.Name == "ledger_records_legacy");
        Assert.Equal((null, new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero)), (legacy.From, legacy.To));
        Assert.Equal(old.Select(r => (r.Id, r.Timestamp)), (await ReadAllAsync(store)).Select(r => (r.Id, r.Timestamp)));

        // Replays of the old rows (same id and timestamp: the same record) are skipped, rollups and all.
        await store.WriteBatchAsync(old[..250]);
        await AssertRollupsMatchRawAsync(store, old.Length);

        // New rows: March (a new partition, and April ahead of it) and June (created on demand), read after the old ones.
        var newer = LedgerTraffic.Generate(40, seed: 12, new DateTimeOffset(2026, 3, 30, 12, 0, 0, TimeSpan.Zero), TimeSpan.FromDays(2), "n");
        await store.WriteBatchAsync(newer);
        var names = (await store.ListPartitionsAsync()).Select(p => p.Name).ToList();
        Assert.Contains("ledger_records_y2026m03", names);
        Assert.Contains("ledger_records_y2026m04", names);
        Assert.Contains("ledger_records_y2026m06", names);
        Assert.Contains("ledger_records_y2026m07", names);
        Assert.Equal(old.Concat(newer).Select(r => r.Id), (await ReadAllAsync(store)).Select(r => r.Id));
        await AssertRollupsMatchRawAsync(store, old.Length + newer.Length);

        // Running the migration again changes nothing.
        await using (var again = new PostgresLedgerStore(target))
        {
            await again.MigrateAsync();
            Assert.Equal(old.Length + newer.Length, await again.CountAsync(LedgerQuery.All));
        }

        // The attached table is dropped whole once a prune's cut passes its end.
        var cut = new DateTimeOffset(2026, 3, 31, 0, 0, 0, TimeSpan.Zero);
        var before = await store.GetTotalsAsync(new LedgerQuery { To = cut });
        var pruned = await LedgerPruner.PruneAsync(store, new LedgerPruneOptions { Before = cut, ExportPath = Path.Combine(_folder, "legacy.jsonl") });
        Assert.Equal((before.Count, before.TotalCost, 0L), (pruned.Deleted, pruned.DeletedCost, pruned.Remaining));
        Assert.DoesNotContain((await store.ListPartitionsAsync()), p => p.Name == "ledger_records_legacy");
    }

    [Fact]
    public async Task Prune_drops_the_partitions_before_the_cut_deletes_rows_only_from_the_one_straddling_it_and_keeps_the_audit()
    {
        var connectionString = await _server.CreateDatabaseAsync("partprune");
        var records = LedgerTraffic.Generate(1_000, seed: 21, Jan10, TimeSpan.FromHours(1.75)); // Jan 10 .. Mar 23
        await using var store = new PostgresLedgerStore(connectionString);
        await store.MigrateAsync();
        await using var other = new PostgresLedgerStore(connectionString); // another replica: it saw January's partition
        await other.MigrateAsync();
        for (var i = 0; i < records.Length; i += 250)
        {
            await (i == 0 ? other : store).WriteBatchAsync(records[i..(i + 250)]);
        }

        var cut = new DateTimeOffset(2026, 3, 5, 0, 0, 0, TimeSpan.Zero);
        var older = records.Where(r => r.Timestamp < cut).ToList();
        var audit = new AuditOptions { To = cut, BaselineModel = "claude-opus-4-5", RoutingStart = Jan10, RecentCount = 0, SessionWindow = TimeSpan.FromTicks(1) };
        var auditBefore = await AuditRunner.RunAsync(store, PriceBook.Default, audit);
        var rollupsBefore = LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync(store));
        var newer = await store.GetTotalsAsync(new LedgerQuery { From = cut });

        // A partition whose rows differ from what the caller expects is never dropped: one row more, or the same count and
        // cost with another id.
        var january = Assert.Single(await store.ListPartitionsAsync(), p => p.Name == "ledger_records_y2026m01");
        var januaryRows = records.Where(r => january.Contains(r.Timestamp)).Aggregate(default(LedgerPartitionContents), (c, r) => c.Add(new LedgerExportedRow(r.Id, r.Cost?.Total)));
        Assert.False(await store.DropPartitionAsync(january, januaryRows with { Rows = januaryRows.Rows + 1 }));
        Assert.False(await store.DropPartitionAsync(january, januaryRows with { IdChecksum = januaryRows.IdChecksum + 1 }));
        Assert.False(await store.DropPartitionAsync(january, januaryRows with { CostTotal = januaryRows.CostTotal + 0.000001m }));
        Assert.Contains(await store.ListPartitionsAsync(), p => p.Name == january.Name);

        var pruned = await LedgerPruner.PruneAsync(store, new LedgerPruneOptions { Before = cut, ExportPath = Path.Combine(_folder, "pruned.jsonl"), BatchSize = 37 });

        Assert.Equal(older.Count, pruned.Deleted);
        Assert.Equal(older.Sum(r => r.Cost?.Total ?? 0m), pruned.DeletedCost);
        Assert.Equal(0, pruned.Remaining);
        var names = (await store.ListPartitionsAsync()).Select(p => p.Name).ToList();
        Assert.DoesNotContain("ledger_records_y2026m01", names); // dropped whole
        Assert.DoesNotContain("ledger_records_y2026m02", names);
        Assert.Contains("ledger_records_y2026m03", names); // straddles the cut: its rows before it deleted one by one
        Assert.Equal(0, await store.CountAsync(new LedgerQuery { To = cut }));
        Assert.Equal(newer, await store.GetTotalsAsync(new LedgerQuery { From = cut }));
        Assert.Equal(rollupsBefore, LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync(store)));
        var auditAfter = await AuditRunner.RunAsync(store, PriceBook.Default, audit);
        Assert.Equal((auditBefore.Calls, auditBefore.TotalUsd), (auditAfter.Calls, auditAfter.TotalUsd));

        // A replica that still believes January has a partition: its write fails once ("no partition"), and its retry
        // (as BufferedLedger retries every failed batch) creates the partition again, so no record is ever lost.
        var late = LedgerTraffic.Generate(3, seed: 22, Jan10.AddDays(3), TimeSpan.FromMinutes(5), "late");
        var failure = await Assert.ThrowsAsync<PostgresException>(() => other.WriteBatchAsync(late));
        Assert.Equal(PostgresErrorCodes.CheckViolation, failure.SqlState);
        await other.WriteBatchAsync(late);
        Assert.Equal(3, await store.CountAsync(new LedgerQuery { To = cut }));
        Assert.Contains(await store.ListPartitionsAsync(), p => p.Name == "ledger_records_y2026m01");
    }

    [Fact]
    public async Task A_reconciled_intent_and_its_late_record_share_the_key_so_the_call_is_stored_once()
    {
        var connectionString = await _server.CreateDatabaseAsync("partkey");
        await using var store = new PostgresLedgerStore(connectionString);
        await store.MigrateAsync();

        // The attempt as its process would record it, and its intent as the proxy and the ledger stage build it (from the
        // attempt: LedgerIntent.For); reconciliation turns the intent into the record's outcome_unknown row.
        var attempt = LedgerTraffic.Generate(1, seed: 31, Jan10.AddTicks(123), TimeSpan.Zero, "k")[0];
        var intent = LedgerIntent.For(attempt, new TokenUsage(1_000, 4_096), reservationId: null);
        Assert.Equal((attempt.Id, attempt.Timestamp), (intent.ToOutcomeUnknownRecord().Id, intent.ToOutcomeUnknownRecord().Timestamp));
        await store.WriteIntentsAsync("dead-instance", [intent], Jan10.AddDays(-1));
        Assert.Equal(1, await store.ReconcileIntentsAsync("live-instance", Jan10.AddDays(1), TimeSpan.FromSeconds(30), r => r));

        // The dead process's own record arrives after all (its commit was only slow): same id, same timestamp — the
        // conflict target (id, timestamp) skips it exactly as (id) did, rollups included.
        await store.WriteBatchAsync([attempt]);
        var stored = Assert.Single(await ReadAllAsync(store));
        Assert.Equal((attempt.Id, LedgerStatus.OutcomeUnknown), (stored.Id, stored.Status));
        await AssertRollupsMatchRawAsync(store, 1);

        // The boundary of the contract (docs/ledger.md): the same id at another timestamp is another key on PostgreSQL.
        await store.WriteBatchAsync([attempt with { Timestamp = attempt.Timestamp.AddTicks(1) }]);
        Assert.Equal(2, await store.CountAsync(LedgerQuery.All));
    }

    private static async Task CopyRowsAsync(string source, NpgsqlConnection target)
    {
        var columns = string.Join(", ", SqliteLedgerSchema.Columns.Where(column => column != "overrun_usd")); // the columns of the step before the partitions
        await using var from = new NpgsqlConnection(source);
        await from.OpenAsync();
        await using var reader = await from.BeginRawBinaryCopyAsync($"COPY (SELECT {columns} FROM ledger_records ORDER BY seq) TO STDOUT (FORMAT BINARY)");
        await using var writer = await target.BeginRawBinaryCopyAsync($"COPY ledger_records ({columns}) FROM STDIN (FORMAT BINARY)");
        await reader.CopyToAsync(writer);
    }

    private static async Task<List<LedgerRecord>> ReadAllAsync(PostgresLedgerStore store)
    {
        var all = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            all.Add(record);
        }

        return all;
    }

    private static async Task AssertRollupsMatchRawAsync(PostgresLedgerStore store, int expectedCalls)
    {
        var raw = await ReadAllAsync(store);
        Assert.Equal(expectedCalls, raw.Count);
        Assert.Equal(LedgerRollupOracle.Expected(raw), LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync(store)));
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
