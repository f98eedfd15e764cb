using System.Text.Json;
using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Ledger;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Audit;

/// <summary>
/// The audit over the hourly rollups (the default when the store keeps them) gives the very report the record-by-record
/// audit gives, over mixed traffic and a range that starts and ends mid-hour, every money figure to the last digit.
/// </summary>
public sealed class AuditFromRollupsTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 22, 17, 0, TimeSpan.Zero);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    [Theory]
    [InlineData(false, false)] // the whole ledger
    [InlineData(true, true)] // from and to mid-hour: partial hours come from raw rows
    [InlineData(true, false)]
    public async Task The_rollup_audit_equals_the_raw_audit(bool from, bool to)
    {
        var records = LedgerTraffic.Generate(3_000, seed: 21, T0, TimeSpan.FromSeconds(67));
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        for (var i = 0; i < records.Length; i += 500)
        {
            await store.WriteBatchAsync(records[i..(i + 500)]);
        }

        var options = new AuditOptions
        {
            From = from ? T0.AddMinutes(95).AddSeconds(13) : null,
            To = to ? T0.AddHours(40).AddMinutes(7) : null,
            RecentCount = 25,
        };
        var fromRaw = await AuditRunner.RunAsync(store, PriceBook.Default, options with { UseRollups = false });
        var fromRollups = await AuditRunner.RunAsync(store, PriceBook.Default, options);

        Assert.True(fromRaw.Calls > 1_000);
        Assert.True(fromRaw.Escalations.EscalatedRequests > 0 && fromRaw.Cache.ReadSavingsUsd != 0m && fromRaw.Batch.SavingsUsd != 0m);
        Assert.Equal(Json(fromRaw), Json(fromRollups));

        // And the rollups did stand for most hours (an hour they cannot stand for is audited from its raw rows).
        var accumulator = new AuditAccumulator(PriceBook.Default, options, fromRollups: true);
        var hours = (await LedgerRollupOracle.ReadAllAsync(store)).GroupBy(row => row.Hour).ToList();
        var accepted = hours.Count(hour => accumulator.CanAddRollups(hour.Key, hour.ToList()));
        Assert.True(accepted * 10 >= hours.Count * 9, $"{accepted} of {hours.Count} hours from rollups");
    }

    /// <summary>
    /// Dense traffic (7,200 calls an hour, so a rollup row sums far more tokens than any context window or output
    /// limit): a row is judged on its largest and smallest call, never on its sum, and a row that no call of could have
    /// moved to a target (here an inference_geo Opus 4.5 refuses) stands for its calls as infeasible ones, so the rollups
    /// still stand for nearly every hour and the report is the raw one to the last digit. Before, a target was judged on
    /// a row's summed tokens, so rows of more than a context window's worth of tokens were counted infeasible on every
    /// target ($87,002 against $736 for all-on-top), and a row with a geo the baseline refuses sent its whole hour
    /// back to the raw rows.
    /// </summary>
    [Fact]
    public async Task Dense_traffic_is_audited_from_rollups_and_equals_the_raw_audit()
    {
        var records = LedgerTraffic.Generate(24_000, seed: 5, T0, TimeSpan.FromMilliseconds(500)); // 7,200 an hour, 3.3 hours
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        for (var i = 0; i < records.Length; i += 2_000)
        {
            await store.WriteBatchAsync(records[i..(i + 2_000)]);
        }

        var options = new AuditOptions { RecentCount = 25, BaselineModel = "claude-opus-4-5" };
        var fromRaw = await AuditRunner.RunAsync(store, PriceBook.Default, options with { UseRollups = false });
        var fromRollups = await AuditRunner.RunAsync(store, PriceBook.Default, options);
        Assert.Equal(24_000, fromRaw.Calls);
        Assert.Contains(fromRaw.Counterfactuals, c => c.InfeasibleCalls > 0); // Opus 4.5 takes no inference_geo
        Assert.Equal(Json(fromRaw), Json(fromRollups));

        var accumulator = new AuditAccumulator(PriceBook.Default, options, fromRollups: true);
        var hours = (await LedgerRollupOracle.ReadAllAsync(store)).GroupBy(row => row.Hour).ToList();
        var accepted = hours.Count(hour => accumulator.CanAddRollups(hour.Key, hour.ToList()));
        Assert.True(accepted * 10 >= hours.Count * 9, $"{accepted} of {hours.Count} hours from rollups");
    }

    /// <summary>
    /// The baseline (the model used most before routing started) found over the rollups equals the one found record by
    /// record: routing starts mid-hour after five hours of passthrough traffic, and the range starts and ends mid-hour.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_baseline_found_over_rollups_equals_the_raw_one(bool midHourRange)
    {
        var routingStarts = T0.AddHours(5).AddMinutes(21);
        var records = LedgerTraffic.Generate(3_000, seed: 33, T0, TimeSpan.FromSeconds(53))
            .Select(r => r.Timestamp < routingStarts ? r with { Policy = "passthrough" } : r).ToArray();
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteBatchAsync(records);

        var options = new AuditOptions { RecentCount = 5, From = midHourRange ? T0.AddMinutes(70) : null, To = midHourRange ? T0.AddHours(30).AddMinutes(9) : null };
        var fromRaw = await AuditRunner.RunAsync(store, PriceBook.Default, options with { UseRollups = false });
        var fromRollups = await AuditRunner.RunAsync(store, PriceBook.Default, options);
        Assert.Equal(Json(fromRaw), Json(fromRollups));
        Assert.Contains(fromRaw.Counterfactuals, c => c.Name == "all-on-baseline");
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static string Json(AuditReport report) => JsonSerializer.Serialize(report, Indented);
}
