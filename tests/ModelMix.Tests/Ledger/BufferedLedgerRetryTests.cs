using Microsoft.Extensions.Logging;
using ModelMix.Ledger;
using ModelMix.Testing;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The writer's back-off between retries of a failed commit, read from the clock's timers (they fire at once, so
/// nothing is slept): written for the ledger area's mutation testing (docs/testing.md), where the old tests' 1–4 ms
/// delays on the real clock could not tell a wrong back-off from a right one.
/// </summary>
public sealed class BufferedLedgerRetryTests : IDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task A_failing_commit_backs_off_exponentially_from_the_base_up_to_the_cap()
    {
        await using var store = new ObservedStore(new SqliteLedgerStore(_db.FilePath));
        await store.MigrateAsync();
        store.FailNextWrites(5);
        var time = new FallbackTestTime();
        var logger = new ListLogger<BufferedLedger>();
        // A full batch (3 of 3) commits at once; the flush interval is far longer than any back-off.
        var options = new LedgerOptions
        {
            MaxBatchSize = 3,
            FlushInterval = TimeSpan.FromHours(1),
            RetryBaseDelay = TimeSpan.FromMilliseconds(100),
            RetryMaxDelay = TimeSpan.FromMilliseconds(350),
        };
        await using var ledger = new BufferedLedger(store, options, time, logger);

        foreach (var record in LedgerRecords.Many(3))
        {
            await ledger.RecordAsync(record);
        }

        await store.WhenCommitted(3).WaitAsync(Guard);

        // Attempt n waits base × 2^(n-1), capped: 100, 200, 400 → 350, 800 → 350, 1600 → 350 ms.
        var backOff = time.Delays.Where(d => d < options.FlushInterval).ToList();
        Assert.Equal(
            [100, 200, 350, 350, 350],
            backOff.Select(d => d.TotalMilliseconds));
        Assert.Equal(6, store.WriteCalls);
        Assert.Equal(5, logger.Entries.Count(e => e.Level == LogLevel.Warning));
        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("after 6 attempts", StringComparison.Ordinal));
    }
}
