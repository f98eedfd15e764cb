using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// The PostgreSQL ledger's hourly rollups (docs/ledger.md, "Rollups") on a real server against the raw rows they
/// summarise: after mixed traffic from two replicas at once with replays, a batch that fails, a backfill and a
/// repricing, every rollup row equals the C# regrouping of the raw rows (<see cref="LedgerRollupOracle"/>) to the last
/// digit, and the totals equal the raw totals.
/// </summary>
public sealed class PostgresLedgerRollupTests() : PostgresDatabaseTest("rollups")
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 22, 17, 0, TimeSpan.Zero);

    [Fact]
    public async Task Rollups_equal_the_raw_rows_after_two_replicas_write_overlapping_batches_and_a_batch_fails()
    {
        var records = LedgerTraffic.Generate(2_000, seed: 7, T0, TimeSpan.FromMinutes(1));
        await using var a = new PostgresLedgerStore(ConnectionString);
        await using var b = new PostgresLedgerStore(ConnectionString);
        await a.MigrateAsync();
        await b.MigrateAsync();

        // Replica a writes batches of 200; replica b, at the same time, writes the same records in batches of 150 (each
        // record is stored once, by whichever commits first) and replays some.
        var writeA = Task.Run(async () =>
        {
            for (var i = 0; i < records.Length; i += 200)
            {
                await a.WriteBatchAsync(records[i..(i + 200)]);
            }
        });
        var writeB = Task.Run(async () =>
        {
            for (var i = 0; i < records.Length; i += 150)
            {
                await b.WriteBatchAsync(records[i..Math.Min(i + 150, records.Length)]);
                await b.WriteBatchAsync(records[(i / 2)..(i / 2 + 50)]);
            }
        });
        await Task.WhenAll(writeA, writeB);
        Assert.Contains(records, r => r.OverrunUsd is not null); // overruns stored with their rows are rolled up too
        await AssertRollupsMatchRawAsync(a, records.Length);

        // A batch that cannot be stored (an undefined status) is rolled back whole, rollups and all.
        var more = LedgerTraffic.Generate(100, seed: 8, T0.AddDays(2), TimeSpan.FromMinutes(1), "m");
        var failing = more.ToArray();
        failing[60] = failing[60] with { Status = (LedgerStatus)99 };
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => a.WriteBatchAsync(failing));
        await AssertRollupsMatchRawAsync(a, records.Length);
        await a.WriteBatchAsync(more);
        await AssertRollupsMatchRawAsync(a, records.Length + 100);
    }

    [Fact]
    public async Task The_migration_backfills_rollups_from_the_stored_rows_and_a_repricing_recomputes_its_hours()
    {
        var records = LedgerTraffic.Generate(800, seed: 5, T0, TimeSpan.FromMinutes(1));
        await using (var store = new PostgresLedgerStore(ConnectionString))
        {
            await store.MigrateAsync();
            await store.WriteBatchAsync(records);
        }

        // Back to the version before the rollups: the table and index gone, the version at the rollup step's position;
        // the migration builds them again. The steps after it run again too: the narrow-intent step (the only one so far)
        // copies the wide ledger_intents (its start time in "timestamp") into a new table named by its primary key, so the
        // table is given back the wide table's column name and its key is renamed out of the way.
        var rollupStep = PostgresLedgerStore.MigrationSteps.ToList().FindIndex(step => step.Contains("CREATE TABLE ledger_rollups", StringComparison.Ordinal));
        Assert.True(rollupStep > 0);
        // A step appended later must be undone here too; the partition step (8) leaves a ledger partitioned already as it is,
        // and the effort_sent step (9) rebuilds the step-6 rollups from the raw rows (so this also checks it against them).
        // The covering escalation index (10) replaces step 6's, so the rewind drops whichever exists; the overrun_usd
        // step (11) adds its column again once it is dropped; the daily/overrun step (12) drops with its trigger function
        // and table, and is rebuilt from the raw rows (through step 9's rebuild); the per-session step (13) drops its table
        // and fills it again from the raw rows; the escalation rollup step (14) drops its two tables and fills them again;
        // the day-version step (15) drops its trigger, function and table.
        Assert.Equal(rollupStep + 10, PostgresLedgerStore.SchemaVersion);
        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            await using var rewind = new NpgsqlCommand(
                LedgerDayVersions.Drop(LedgerSqlDialect.Postgres) + " DROP TABLE ledger_escalation_hours; DROP TABLE ledger_escalation_spans; DROP TABLE ledger_session_hours; DROP FUNCTION modelmix_ledger_overrun_rollups() CASCADE; DROP TABLE ledger_rollups_daily; DROP TABLE ledger_rollups; DROP INDEX IF EXISTS ix_ledger_records_escalated; DROP INDEX IF EXISTS ix_ledger_records_escalated_requests; ALTER TABLE ledger_intents RENAME CONSTRAINT pk_ledger_intents TO pk_ledger_intents_before; ALTER TABLE ledger_intents RENAME COLUMN created_at TO \"timestamp\"; ALTER TABLE ledger_records DROP COLUMN overrun_usd; "
                + $"UPDATE modelmix_schema_versions SET version = {rollupStep} WHERE component = 'ledger';", connection);
            await rewind.ExecuteNonQueryAsync();
        }

        await using var reopened = new PostgresLedgerStore(ConnectionString);
        await reopened.MigrateAsync();
        await AssertRollupsMatchRawAsync(reopened, records.Length);
        Assert.Equal(LedgerSessionOracle.Expected(records), await LedgerSessionOracle.ReadAsync(reopened)); // step 13's backfill

        // Every unpriced call of the first three hours gets a price (0.25 input + 0.5 output).
        var unpricedBefore = records.Count(r => r.Cost is null);
        var repriced = await reopened.RepriceAsync(T0, T0.AddHours(2), static r => r.Cost is null ? new CostBreakdown(0.25m, 0.5m, 0m, 0m, 0m) : null);
        var end = new DateTimeOffset(2026, 3, 2, 1, 0, 0, TimeSpan.Zero); // T0 (22:17) + 2 h = 00:17, rounded up to 01:00
        Assert.Equal(records.Count(r => r.Cost is null && r.Timestamp < end), repriced);
        Assert.True(repriced > 0);
        var raw = await ReadRawAsync(reopened);
        Assert.Equal(unpricedBefore - repriced, raw.Count(r => r.Cost is null));
        await AssertRollupsMatchRawAsync(reopened, records.Length);
        Assert.Equal(LedgerSessionOracle.Expected(raw), await LedgerSessionOracle.ReadAsync(reopened)); // the repriced hours' sessions
    }

    /// <summary>
    /// An overrun booked on a stored row after its insert (settlement and budget leases update <c>overrun_usd</c>) reaches
    /// its hourly and daily rollup rows through the trigger: 0.0001 booked, then raised to 0.00025, on top of the rows'
    /// own overruns.
    /// </summary>
    [Fact]
    public async Task An_overrun_booked_after_the_insert_reaches_the_hourly_and_daily_rollups()
    {
        var records = LedgerTraffic.Generate(600, seed: 13, T0, TimeSpan.FromMinutes(3));
        await using var store = new PostgresLedgerStore(ConnectionString);
        await store.MigrateAsync();
        await store.WriteBatchAsync(records);
        var target = records.First(r => r.Cost is not null && r.OverrunUsd is null && r.KeyId is not null);
        var hour = LedgerRollupReader.FloorHour(target.Timestamp);
        decimal KeyHourOverrun(IEnumerable<LedgerRollup> rows) =>
            rows.Where(r => r.KeyId == target.KeyId && SqliteLedgerSchema.ToStoredTimestamp(r.Hour) == hour).Sum(r => r.OverrunUsd);
        var before = KeyHourOverrun(await LedgerRollupOracle.ReadAllAsync(store));
        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            foreach (var amount in new[] { 0.0001m, 0.00025m })
            {
                await using var book = new NpgsqlCommand("UPDATE ledger_records SET overrun_usd = @o WHERE id = @id;", connection);
                book.Parameters.AddWithValue("o", amount);
                book.Parameters.AddWithValue("id", target.Id);
                Assert.Equal(1, await book.ExecuteNonQueryAsync());
            }
        }

        Assert.Equal(before + 0.00025m, KeyHourOverrun(await LedgerRollupOracle.ReadAllAsync(store))); // 0.0001 then 0.00025 in all
        await AssertRollupsMatchRawAsync(store, records.Length);
    }

    private static async Task<List<LedgerRecord>> ReadRawAsync(PostgresLedgerStore store)
    {
        var raw = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            raw.Add(record);
        }

        return raw;
    }

    private static async Task AssertRollupsMatchRawAsync(PostgresLedgerStore store, int expectedCalls)
    {
        var raw = await ReadRawAsync(store);
        Assert.Equal(expectedCalls, raw.Count);
        var rollups = await LedgerRollupOracle.ReadAllAsync(store); // and daily = hourly summed per day
        Assert.Equal(LedgerRollupOracle.Expected(raw), LedgerRollupOracle.Describe(rollups));
        Assert.Equal(LedgerRollupOracle.Expected(raw, daily: true), LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllDailyAsync(store)));
        var totals = await store.GetTotalsAsync(LedgerQuery.All);
        Assert.Equal(totals.Count, rollups.Sum(u => u.Calls));
        Assert.Equal(totals.UnpricedCount, rollups.Where(u => !u.Priced).Sum(u => u.Calls));
        Assert.Equal(totals.Cost, rollups.Aggregate(CostBreakdown.Zero, (sum, u) => sum + u.Cost));
    }
}
