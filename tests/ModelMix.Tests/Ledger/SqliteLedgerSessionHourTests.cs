using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The writer's per-session hourly sums (<c>ledger_session_hours</c>, docs/ledger.md, "Rollups") on SQLite: after
/// batches, a replayed batch, a repricing and a correction, the per-session summaries read from them equal the raw rows
/// regrouped here (<see cref="LedgerSessionOracle"/>) to the last digit; a window starting on an hour is read from them and
/// not from raw rows, one starting inside an hour from raw rows.
/// </summary>
public sealed class SqliteLedgerSessionHourTests : IDisposable
{
    private static readonly DateTimeOffset Day = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task Session_sums_equal_the_raw_rows_after_batches_a_replay_a_repricing_and_a_correction()
    {
        var records = LedgerTraffic.Generate(3_000, seed: 21, Day.AddHours(7).AddMinutes(13), TimeSpan.FromMinutes(1.5)); // 3+ days
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        for (var i = 0; i < records.Length; i += 300)
        {
            await store.WriteBatchAsync(records[i..(i + 300)]);
        }

        await store.WriteBatchAsync(records[450..750]); // a replay: stored rows are skipped, never summed twice
        await AssertSessionsAsync(store);

        // A repricing of four hours across a midnight: unpriced calls get 0.25 input + 0.5 output.
        Assert.True(await store.RepriceAsync(Day.AddHours(22), Day.AddHours(26), static r => r.Cost is null ? new CostBreakdown(0.25m, 0.5m, 0m, 0m, 0m) : null) > 0);
        await AssertSessionsAsync(store);

        // A correction of estimated rows of sessions (their hours recomputed).
        var estimated = records.Where(r => r.UsageEstimated && r.SessionId is not null && r.Timestamp >= Day.AddDays(1)).Take(5).ToList();
        Assert.True(estimated.Count >= 3, $"{estimated.Count} estimated rows");
        Assert.Equal(estimated.Count, await store.CorrectEstimatesAsync(
            [.. estimated.Select(r => (r.Id, new TokenUsage(InputTokens: 7, OutputTokens: 3)))],
            static _ => new CostBreakdown(0.07m, 0.03m, 0m, 0m, 0m)));
        await AssertSessionsAsync(store);
    }

    [Fact]
    public async Task A_window_from_an_hour_is_read_from_the_session_rows_and_one_from_inside_an_hour_from_raw_rows()
    {
        var records = LedgerTraffic.Generate(600, seed: 22, Day.AddMinutes(3), TimeSpan.FromMinutes(2)); // 20 hours
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteBatchAsync(records);
        var from = Day.AddHours(5);
        var to = Day.AddHours(12).AddMinutes(30); // inside an hour whose calls go on after it: that hour is summed from raw rows...
        var endOfData = records[^1].Timestamp.AddTicks(1); // ...unlike a window ending after the hour's last call
        var expectedToEnd = LedgerSessionOracle.Expected(records, from, endOfData);
        Assert.Equal(expectedToEnd, await LedgerSessionOracle.ReadAsync(store, from, endOfData));
        Assert.Equal(LedgerSessionOracle.Expected(records, from, to), await LedgerSessionOracle.ReadAsync(store, from, to));

        // Remove the raw rows (not through the store: its rollups stay). A window from an hour still reads every session
        // whole, so it never read raw rows; one starting inside an hour reads the (now empty) raw rows.
        using (var connection = _db.OpenIndependentConnection())
        {
            using var delete = connection.CreateCommand();
            delete.CommandText = "DELETE FROM ledger_records;";
            delete.ExecuteNonQuery();
        }

        Assert.Equal(expectedToEnd, await LedgerSessionOracle.ReadAsync(store, from, endOfData));
        Assert.Empty(await LedgerSessionOracle.ReadAsync(store, from.AddMinutes(1), endOfData));
    }

    private static async Task AssertSessionsAsync(SqliteLedgerStore store)
    {
        var raw = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            raw.Add(record);
        }

        Assert.Contains(raw, r => r.SessionId is null); // calls without a session are left out
        var expected = LedgerSessionOracle.Expected(raw);
        Assert.True(expected.Count > 100, $"{expected.Count} sessions");
        Assert.Equal(expected, await LedgerSessionOracle.ReadAsync(store));
        Assert.Equal(LedgerSessionOracle.Expected(raw, Day.AddDays(1), Day.AddDays(2)), await LedgerSessionOracle.ReadAsync(store, Day.AddDays(1), Day.AddDays(2)));
    }
}
