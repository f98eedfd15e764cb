using Microsoft.Data.Sqlite;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The SQLite ledger's hourly rollups (docs/ledger.md, "Rollups") against the raw rows they summarise: after mixed
/// traffic with replays, a batch that fails half-way, a backfill of an older database and a repricing, every rollup row
/// equals the C# regrouping of the raw rows (<see cref="LedgerRollupOracle"/>) to the last digit, and their totals equal
/// the raw totals to the cent.
/// </summary>
public sealed class SqliteLedgerRollupTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 22, 17, 0, TimeSpan.Zero);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task Rollups_equal_the_raw_rows_after_mixed_traffic_and_replays()
    {
        // 2,400 calls over 40 hours (one a minute), across a day boundary, written in batches of 200; every batch is
        // followed by a replay of the batch before it and of a batch straddling both (records already stored are skipped).
        var records = LedgerTraffic.Generate(2_400, seed: 7, T0, TimeSpan.FromMinutes(1));
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        for (var i = 0; i < records.Length; i += 200)
        {
            await store.WriteBatchAsync(records[i..(i + 200)]);
            if (i > 0)
            {
                await store.WriteBatchAsync(records[(i - 200)..i]);
                await store.WriteBatchAsync(records[(i - 100)..(i + 100)]);
            }
        }

        await AssertRollupsMatchRawAsync(store, records.Length);
    }

    [Fact]
    public async Task A_batch_that_fails_half_way_adds_nothing_to_the_rollups()
    {
        var records = LedgerTraffic.Generate(300, seed: 11, T0, TimeSpan.FromSeconds(40));
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteBatchAsync(records[..100]);

        // The 50th record of the next batch cannot be stored (an undefined status): the transaction is rolled back
        // after 49 inserts, rollup upserts and all.
        var failing = records[100..200].ToArray();
        failing[49] = failing[49] with { Status = (LedgerStatus)99 };
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.WriteBatchAsync(failing));
        await AssertRollupsMatchRawAsync(store, 100);

        await store.WriteBatchAsync(records[100..]);
        await AssertRollupsMatchRawAsync(store, 300);
    }

    [Fact]
    public async Task A_database_from_before_the_rollups_is_backfilled_by_the_migration()
    {
        var records = LedgerTraffic.Generate(1_000, seed: 3, T0, TimeSpan.FromMinutes(2));
        const int previous = 5; // the schema version before the rollups
        using (var connection = _db.OpenIndependentConnection())
        {
            foreach (var step in SqliteLedgerSchema.Migrations.Take(previous))
            {
                using var migrate = connection.CreateCommand();
                migrate.CommandText = step;
                migrate.ExecuteNonQuery();
            }

            using var version = connection.CreateCommand();
            version.CommandText = $"PRAGMA user_version = {previous};";
            version.ExecuteNonQuery();
            using var transaction = connection.BeginTransaction();
            InsertIntoOldSchema(connection, records);
            transaction.Commit();
        }

        SqliteConnection.ClearAllPools();
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await AssertRollupsMatchRawAsync(store, records.Length);

        // And the writer carries on from the backfilled rows.
        await store.WriteBatchAsync(LedgerTraffic.Generate(200, seed: 4, T0.AddDays(1), TimeSpan.FromMinutes(3), "u"));
        await AssertRollupsMatchRawAsync(store, records.Length + 200);
    }

    /// <summary>
    /// Step 9 adds the <c>effort_sent</c> dimension to a database whose rollups (step 7) mix calls that sent their effort
    /// with calls that did not: every hour whose raw rows are all stored is rebuilt from them (each row then all sent or
    /// none), and an hour whose raw rows were pruned keeps its old rows' totals (they cannot be split), marked sent
    /// when some call sent the effort. Fails if the step only relabels the old rows (the whole hours would still mix), or
    /// rebuilds every hour from the raw rows (the pruned hours would lose their calls).
    /// </summary>
    [Fact]
    public async Task The_effort_sent_migration_rebuilds_whole_hours_and_keeps_pruned_ones()
    {
        var records = LedgerTraffic.Generate(1_000, seed: 3, T0, TimeSpan.FromMinutes(2)); // 22:17 on, 33 hours
        const int previous = 8; // the schema version before effort_sent
        var prunedBefore = LedgerRollupReader.FloorHour(T0) + (2 * TimeSpan.TicksPerHour); // 22:00 and 23:00 pruned
        List<LedgerRollup> before;
        using (var connection = _db.OpenIndependentConnection())
        {
            SqliteLedgerRollups.RegisterFunctions(connection);
            using (var transaction = connection.BeginTransaction())
            {
                foreach (var step in SqliteLedgerSchema.Migrations.Take(previous))
                {
                    using var migrate = connection.CreateCommand();
                    migrate.CommandText = step;
                    migrate.ExecuteNonQuery();
                }

                using var version = connection.CreateCommand();
                version.CommandText = $"PRAGMA user_version = {previous};";
                version.ExecuteNonQuery();
                InsertIntoOldSchema(connection, records);

                // The step-7 rollups of these rows (the writer's upsert then was step 7's grouping).
                using var rollup = connection.CreateCommand();
                rollup.CommandText = LedgerRollupSql.BackfillV1(LedgerSqlDialect.Sqlite);
                rollup.ExecuteNonQuery();

                // Retention pruned the raw rows of the first two hours; their rollups stay.
                using var prune = connection.CreateCommand();
                prune.CommandText = $"DELETE FROM ledger_records WHERE timestamp < {prunedBefore};";
                prune.ExecuteNonQuery();
                transaction.Commit();
            }

            using var read = connection.CreateCommand();
            read.CommandText = $"SELECT {string.Join(", ", LedgerRollupSql.ColumnsV1)}, 0 FROM {LedgerRollupSql.Table} ORDER BY hour;"; // effort_sent 0
            before = [];
            using (var reader = read.ExecuteReader())
            {
                while (reader.Read())
                {
                    before.Add(ReadV1(reader));
                }
            }
        }

        Assert.Contains(before, row => row.EffortDefaultCalls > 0 && row.EffortDefaultCalls < row.Calls); // mixed rows to split
        SqliteConnection.ClearAllPools();
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        var after = await LedgerRollupOracle.ReadAllAsync(store);
        var kept = SqliteLedgerSchema.FromStoredTimestamp(prunedBefore);

        // Whole hours: exactly the raw rows' rollups, effort_sent included.
        var raw = await ReadRawAsync(store);
        Assert.Equal(records.Count(r => r.Timestamp >= kept), raw.Count);
        Assert.Equal(LedgerRollupOracle.Expected(raw), LedgerRollupOracle.Describe(after.Where(row => row.Hour >= kept)));
        Assert.DoesNotContain(after, row => row.Hour >= kept && row.EffortDefaultCalls > 0 && row.EffortDefaultCalls < row.Calls && row.Effort is not null);

        // Pruned hours: the old rows as they were, each marked sent when some of its calls sent the effort.
        var expectedPruned = before.Where(row => row.Hour < kept)
            .Select(row => row with { EffortSent = row.Effort is not null && row.EffortDefaultCalls < row.Calls });
        Assert.Equal(LedgerRollupOracle.Describe(expectedPruned), LedgerRollupOracle.Describe(after.Where(row => row.Hour < kept)));
        Assert.True(after.Count(row => row.Hour < kept) > 10);

        // The writer carries on with the new dimension.
        await store.WriteBatchAsync(LedgerTraffic.Generate(200, seed: 4, T0.AddDays(2), TimeSpan.FromMinutes(3), "u"));
        var afterWrite = await LedgerRollupOracle.ReadAllAsync(store);
        Assert.Equal(LedgerRollupOracle.Expected(await ReadRawAsync(store)), LedgerRollupOracle.Describe(afterWrite.Where(row => row.Hour >= kept)));
    }

    /// <summary>
    /// The dashboard's latest calls (found from the count-th latest timestamp, not by sorting the range): newest first,
    /// ties on the timestamp by write order, the range's bounds kept, and a range with fewer calls than asked gives them all.
    /// </summary>
    [Fact]
    public async Task The_latest_calls_are_the_newest_first_with_ties_in_write_order()
    {
        // 40 calls, four to a timestamp (one every 10 minutes), written in order.
        var records = LedgerTraffic.Generate(40, seed: 9, T0, TimeSpan.Zero)
            .Select((r, i) => r with { Timestamp = T0.AddMinutes(10 * (i / 4)) }).ToArray();
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteBatchAsync(records);

        async Task<List<string>> LatestAsync(DateTimeOffset? from, DateTimeOffset? to, int count)
        {
            var ids = new List<string>();
            await foreach (var record in store.ReadLatestAsync(from, to, count))
            {
                ids.Add(record.Id);
            }

            return ids;
        }

        List<string> Expected(DateTimeOffset? from, DateTimeOffset? to, int count) => records
            .Select((r, i) => (r, i)).Where(x => (from is null || x.r.Timestamp >= from) && (to is null || x.r.Timestamp < to))
            .OrderByDescending(x => x.r.Timestamp).ThenByDescending(x => x.i).Take(count).Select(x => x.r.Id).ToList();

        Assert.Equal(Expected(null, null, 25), await LatestAsync(null, null, 25));
        Assert.Equal(Expected(null, null, 6), await LatestAsync(null, null, 6)); // cuts through a timestamp's four calls
        Assert.Equal(Expected(T0.AddMinutes(15), T0.AddMinutes(55), 25), await LatestAsync(T0.AddMinutes(15), T0.AddMinutes(55), 25)); // 16 calls
        Assert.Equal(16, (await LatestAsync(T0.AddMinutes(15), T0.AddMinutes(55), 25)).Count);
        Assert.Empty(await LatestAsync(T0.AddDays(1), null, 25));
    }

    /// <summary>A step-7 rollup row (<see cref="LedgerRollupSql.ColumnsV1"/> then a constant effort_sent 0: the reader's layout).</summary>
    private static LedgerRollup ReadV1(SqliteDataReader reader)
    {
        // The reader takes the current column order: dimensions (V1 and effort_sent), then measures. Re-order the V1 row.
        var values = new object[reader.FieldCount];
        reader.GetValues(values);
        var v1 = LedgerRollupSql.DimensionsV1.Length;
        object[] ordered = [.. values[..v1], values[^1], .. values[v1..^1], "0"]; // and overrun_usd 0 (step 12)
        using var table = new System.Data.DataTable();
        for (var i = 0; i < ordered.Length; i++)
        {
            table.Columns.Add("c" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), ordered[i].GetType());
        }

        table.Rows.Add(ordered);
        using var rows = table.CreateDataReader();
        rows.Read();
        return LedgerRollupReader.Read(rows, static (r, i) => SqliteLedgerSchema.FromStoredDecimal(r.GetString(i)));
    }

    [Fact]
    public async Task Recomputing_the_hours_of_a_repricing_brings_the_rollups_back_to_the_raw_rows()
    {
        var records = LedgerTraffic.Generate(600, seed: 5, T0, TimeSpan.FromMinutes(1));
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteBatchAsync(records);
        var unpriced = records.Count(r => r.Cost is null);
        Assert.True(unpriced > 5, "the traffic has unpriced calls to reprice");

        // A repricing: every unpriced call of the first three hours gets a price (0.25 input + 0.5 output each).
        var from = LedgerRollupReader.FloorHour(T0);
        var to = from + (3 * TimeSpan.TicksPerHour);
        await store.RepriceAsync(
            SqliteLedgerSchema.FromStoredTimestamp(from), SqliteLedgerSchema.FromStoredTimestamp(to),
            static r => r.Cost is null ? new CostBreakdown(0.25m, 0.5m, 0m, 0m, 0m) : null);

        var repriced = records
            .Select(r => r.Cost is null && SqliteLedgerSchema.ToStoredTimestamp(r.Timestamp) < to
                ? r with { Cost = new CostBreakdown(0.25m, 0.5m, 0m, 0m, 0m), Status = LedgerStatus.Ok }
                : r)
            .ToList();
        var raw = await ReadRawAsync(store);
        Assert.Equal(repriced.Count(r => r.Cost is null), raw.Count(r => r.Cost is null));
        Assert.True(raw.Count(r => r.Cost is null) < unpriced);
        await AssertRollupsMatchRawAsync(store, records.Length);
    }

    private static async Task<List<LedgerRecord>> ReadRawAsync(SqliteLedgerStore store)
    {
        var raw = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            raw.Add(record);
        }

        return raw;
    }

    private static async Task AssertRollupsMatchRawAsync(SqliteLedgerStore store, int expectedCalls)
    {
        var raw = await ReadRawAsync(store);
        Assert.Equal(expectedCalls, raw.Count);
        var rollups = await LedgerRollupOracle.ReadAllAsync(store);
        Assert.Equal(LedgerRollupOracle.Expected(raw), LedgerRollupOracle.Describe(rollups));
        Assert.Equal(LedgerRollupOracle.Expected(raw, daily: true), LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllDailyAsync(store)));

        // And the totals, to the cent and beyond, against the store's own raw totals.
        var totals = await store.GetTotalsAsync(LedgerQuery.All);
        Assert.Equal(totals.Count, rollups.Sum(u => u.Calls));
        Assert.Equal(totals.UnpricedCount, rollups.Where(u => !u.Priced).Sum(u => u.Calls));
        Assert.Equal(totals.Cost, rollups.Aggregate(CostBreakdown.Zero, (sum, u) => sum + u.Cost));
        Assert.Equal(totals.InputTokens + totals.CacheReadTokens, rollups.Sum(u => u.Usage.InputTokens + u.Usage.CacheReadTokens));
    }

    /// <summary>
    /// Inserts with today's insert statement into a schema from before the columns added later (overrun_usd, step 11):
    /// the later columns are added for the inserts and dropped again, so the migration under test adds them itself.
    /// </summary>
    private static void InsertIntoOldSchema(SqliteConnection connection, IEnumerable<LedgerRecord> records)
    {
        using (var add = connection.CreateCommand())
        {
            add.CommandText = "ALTER TABLE ledger_records ADD COLUMN overrun_usd TEXT;";
            add.ExecuteNonQuery();
        }

        using (var insert = new SqliteLedgerInsert(connection))
        {
            foreach (var record in records)
            {
                insert.Execute(record);
            }
        }

        using var drop = connection.CreateCommand();
        drop.CommandText = "ALTER TABLE ledger_records DROP COLUMN overrun_usd;";
        drop.ExecuteNonQuery();
    }
}
