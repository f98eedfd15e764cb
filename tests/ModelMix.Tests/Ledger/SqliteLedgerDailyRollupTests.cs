using Microsoft.Data.Sqlite;
using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The daily rollups and the overrun measure (docs/ledger.md, "Rollups") on SQLite: an overrun stored with its row or
/// booked on it later (settlement) reaches the hourly and daily rows, the audit shows it per key, and the daily rows
/// follow a repricing and a correction.
/// </summary>
public sealed class SqliteLedgerDailyRollupTests : IDisposable
{
    private static readonly DateTimeOffset Day = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    private static LedgerRecord Call(string id, DateTimeOffset at, string key, decimal? overrun) => new()
    {
        Id = id,
        Timestamp = at,
        RequestId = "req-" + id,
        KeyId = key,
        RequestedModel = "claude-haiku-4-5",
        RoutedModel = "claude-haiku-4-5",
        Usage = new TokenUsage(InputTokens: 100, OutputTokens: 10),
        Cost = new CostBreakdown(0.0001m, 0.00005m, 0m, 0m, 0m),
        LatencyMs = 300,
        HttpStatus = 200,
        OverrunUsd = overrun,
    };

    [Fact]
    public async Task An_overrun_stored_or_booked_later_is_in_the_hourly_and_daily_rollups_and_the_audit_per_key()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteBatchAsync(
        [
            Call("a1", Day.AddHours(10).AddMinutes(5), "key_a", 0.0003m),
            Call("a2", Day.AddHours(10).AddMinutes(20), "key_a", 0.00025m),
            Call("a3", Day.AddHours(13), "key_a", null),
            Call("b1", Day.AddDays(1).AddHours(2), "key_b", null),
        ]);

        // Settlement books an overrun on a3 after its insert (SqliteBudgetStore.BookOverrun's UPDATE), twice.
        using (var connection = _db.OpenIndependentConnection())
        {
            SqliteLedgerRollups.RegisterFunctions(connection); // as on the writer's connection
            foreach (var amount in new[] { "0.0001", "0.00015" })
            {
                using var book = connection.CreateCommand();
                book.CommandText = $"UPDATE ledger_records SET overrun_usd = '{amount}' WHERE id = 'a3';";
                book.ExecuteNonQuery();
            }
        }

        var hourly = await LedgerRollupOracle.ReadAllAsync(store); // also checks daily = hourly summed per day
        // 10:00: a1 + a2 = 0.0003 + 0.00025 = 0.00055; 13:00: a3 = 0.00015 (0.0001 then raised to 0.00015); key_b none.
        Assert.Equal(0.00055m, hourly.Single(r => r.Hour == Day.AddHours(10)).OverrunUsd);
        Assert.Equal(0.00015m, hourly.Single(r => r.Hour == Day.AddHours(13)).OverrunUsd);
        Assert.Equal(0m, hourly.Single(r => r.KeyId == "key_b").OverrunUsd);
        var daily = await LedgerRollupOracle.ReadAllDailyAsync(store);
        Assert.Equal(0.0007m, daily.Single(r => r.KeyId == "key_a").OverrunUsd); // 0.00055 + 0.00015
        Assert.Equal(Day, daily.Single(r => r.KeyId == "key_a").Hour);

        // The audit, from rollups (whole days) and record by record, shows it per key, and only for the key that had one.
        var options = new AuditOptions { From = Day, To = Day.AddDays(2) };
        foreach (var useRollups in new[] { true, false })
        {
            var report = await AuditRunner.RunAsync(store, PriceBook.Default, options with { UseRollups = useRollups });
            var overrun = Assert.Single(report.OverrunByKey);
            Assert.Equal("key_a", overrun.Key);
            Assert.Equal(0.0007m, overrun.OverrunUsd);
        }
    }

    [Fact]
    public async Task Daily_rollups_equal_the_raw_rows_after_a_repricing_and_a_correction()
    {
        var records = LedgerTraffic.Generate(3_000, seed: 12, Day.AddHours(7), TimeSpan.FromMinutes(1.5)); // 3+ days
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        for (var i = 0; i < records.Length; i += 300)
        {
            await store.WriteBatchAsync(records[i..(i + 300)]);
        }

        await AssertDailyAsync(store, records.Length);

        // A repricing of four hours across a midnight: unpriced calls get 0.25 input + 0.5 output.
        Assert.True(await store.RepriceAsync(Day.AddHours(22), Day.AddHours(26), static r => r.Cost is null ? new CostBreakdown(0.25m, 0.5m, 0m, 0m, 0m) : null) > 0);
        await AssertDailyAsync(store, records.Length);

        // A correction of estimated rows on the second and third days (their hours recomputed, then their days).
        var estimated = records.Where(r => r.UsageEstimated && r.Timestamp >= Day.AddDays(1)).Take(5).ToList();
        Assert.True(estimated.Count >= 3, $"{estimated.Count} estimated rows");
        var corrected = await store.CorrectEstimatesAsync(
            [.. estimated.Select(r => (r.Id, new TokenUsage(InputTokens: 7, OutputTokens: 3)))],
            static _ => new CostBreakdown(0.07m, 0.03m, 0m, 0m, 0m));
        Assert.Equal(estimated.Count, corrected);
        await AssertDailyAsync(store, records.Length);
    }

    private static async Task AssertDailyAsync(SqliteLedgerStore store, int expectedCalls)
    {
        var raw = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            raw.Add(record);
        }

        Assert.Equal(expectedCalls, raw.Count);
        Assert.Contains(raw, r => r.OverrunUsd is not null);
        Assert.Equal(LedgerRollupOracle.Expected(raw), LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync(store)));
        Assert.Equal(LedgerRollupOracle.Expected(raw, daily: true), LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllDailyAsync(store)));
    }
}
