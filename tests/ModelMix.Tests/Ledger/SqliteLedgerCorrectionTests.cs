using ModelMix.Ledger;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// Correcting estimated records (<see cref="ILedgerCorrections"/>) on SQLite: only the estimated ones change, once, and
/// the hourly rollups stay equal to the raw rows (<see cref="LedgerCorrectionCase"/>).
/// </summary>
public sealed class SqliteLedgerCorrectionTests : IDisposable
{
    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task Correcting_estimates_changes_only_the_estimated_rows_once_and_the_rollups_follow()
    {
        var records = LedgerCorrectionCase.Traffic();
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteBatchAsync(records);

        await LedgerCorrectionCase.RunAsync(store, records, async () =>
        {
            var raw = new List<LedgerRecord>();
            await foreach (var record in store.ReadAsync(LedgerQuery.All))
            {
                raw.Add(record);
            }

            return raw;
        });

        var all = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            all.Add(record);
        }

        var rollups = await LedgerRollupOracle.ReadAllAsync(store);
        Assert.Equal(LedgerRollupOracle.Expected(all), LedgerRollupOracle.Describe(rollups));
        Assert.Equal(0L, rollups.Sum(u => u.EstimatedCalls));
    }
}
