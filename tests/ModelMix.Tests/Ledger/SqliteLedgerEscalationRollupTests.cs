using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The writer's escalated-request rollup (<see cref="LedgerEscalationRollup"/>, docs/ledger.md, "Rollups") on SQLite:
/// after requests whose escalations straddle hours are written in shuffled batches (a request's later hours often before
/// its earlier ones) with replays, the count of every range equals the raw rows' <c>COUNT(DISTINCT request_id)</c>
/// (<see cref="LedgerEscalationOracle"/>), also after a repricing and after the migration's backfill; whole hours are
/// counted without their raw rows.
/// </summary>
public sealed class SqliteLedgerEscalationRollupTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 21, 23, 0, TimeSpan.Zero);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    /// <summary>The records in a fixed shuffled order (a request's rows land in different batches, in any order).</summary>
    private static List<LedgerRecord> Shuffled(List<LedgerRecord> records, int seed)
    {
        var random = new Random(seed);
        return [.. records.OrderBy(_ => random.Next())];
    }

    private static async Task WriteAsync(SqliteLedgerStore store, List<LedgerRecord> shuffled)
    {
        for (var i = 0; i < shuffled.Count; i += 97)
        {
            await store.WriteBatchAsync(shuffled[i..Math.Min(i + 97, shuffled.Count)]);
        }

        await store.WriteBatchAsync(shuffled[100..400]); // a replay: stored rows are skipped, never counted twice
    }

    [Fact]
    public async Task Counts_equal_the_raw_rows_for_every_range_after_shuffled_batches_a_replay_and_a_repricing()
    {
        var records = LedgerEscalationOracle.Generate(900, seed: 31, Start);
        AssertTrafficSpansHours(records);
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await WriteAsync(store, Shuffled(records, 32));
        Assert.True(await LedgerEscalationOracle.AssertAllRangesAsync(store, records, Start) > 30);
        Assert.True(SpanRows() > 10, "some requests escalate in several hours");

        Assert.True(await store.RepriceAsync(Start.AddHours(2), Start.AddHours(5), static r => r.Cost is null ? new CostBreakdown(0.25m, 0.5m, 0m, 0m, 0m) : null) > 0);
        await LedgerEscalationOracle.AssertAllRangesAsync(store, records, Start);
    }

    [Fact]
    public async Task Whole_hours_are_counted_without_their_raw_rows()
    {
        var records = LedgerEscalationOracle.Generate(400, seed: 33, Start);
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await WriteAsync(store, Shuffled(records, 34));
        var from = new DateTimeOffset(2026, 3, 1, 23, 0, 0, TimeSpan.Zero);
        var to = from.AddHours(4);
        var expected = LedgerEscalationOracle.Expected(records, from, to);
        Assert.True(expected > 50, $"{expected} escalated requests");
        Assert.Equal(expected, await store.CountEscalatedRequestsAsync(from, to));

        // The raw rows removed behind the store's back (its rollups stay): whole hours read the same; a range with no
        // whole hour counts its (now empty) raw rows.
        using (var connection = _db.OpenIndependentConnection())
        {
            using var delete = connection.CreateCommand();
            delete.CommandText = "DELETE FROM ledger_records;";
            delete.ExecuteNonQuery();
        }

        Assert.Equal(expected, await store.CountEscalatedRequestsAsync(from, to));
        Assert.Equal(0, await store.CountEscalatedRequestsAsync(from.AddMinutes(5), from.AddMinutes(55)));
    }

    [Fact]
    public async Task The_migration_backfills_both_tables_from_the_raw_rows()
    {
        var records = LedgerEscalationOracle.Generate(600, seed: 35, Start);
        await using (var store = new SqliteLedgerStore(_db.FilePath))
        {
            await store.MigrateAsync();
            await WriteAsync(store, Shuffled(records, 36));
        }

        // Back to the schema before the escalation rollup: its tables gone (and the day versions after it), the version at step 13.
        using (var connection = _db.OpenIndependentConnection())
        {
            using var downgrade = connection.CreateCommand();
            downgrade.CommandText =
                $"DROP TABLE {LedgerEscalationRollup.HoursTable}; DROP TABLE {LedgerEscalationRollup.SpansTable}; {LedgerDayVersions.Drop(LedgerSqlDialect.Sqlite)} PRAGMA user_version = 13;";
            downgrade.ExecuteNonQuery();
        }

        await using (var store = new SqliteLedgerStore(_db.FilePath))
        {
            await store.MigrateAsync();
            await LedgerEscalationOracle.AssertAllRangesAsync(store, records, Start);
        }

        Assert.True(SpanRows() > 10, "the backfill found the requests escalated in several hours");
    }

    /// <summary>The traffic has requests escalated in several hours, one of them more than an hour apart.</summary>
    internal static void AssertTrafficSpansHours(List<LedgerRecord> records)
    {
        var hours = records.Where(r => r.EscalatedFrom is not null && r.Attempt != 0)
            .GroupBy(r => r.RequestId)
            .Select(g => g.Select(r => r.Timestamp.UtcTicks / TimeSpan.TicksPerHour).Distinct().Order().ToList())
            .Where(h => h.Count > 1)
            .ToList();
        Assert.True(hours.Count > 10, $"{hours.Count} requests escalated in several hours");
        Assert.Contains(hours, h => h[^1] - h[0] >= 2);
    }

    private long SpanRows()
    {
        using var connection = _db.OpenIndependentConnection();
        using var count = connection.CreateCommand();
        count.CommandText = $"SELECT COUNT(*) FROM {LedgerEscalationRollup.SpansTable};";
        return (long)count.ExecuteScalar()!;
    }
}
