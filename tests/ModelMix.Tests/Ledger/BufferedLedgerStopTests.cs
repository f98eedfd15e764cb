using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Ledger;
using ModelMix.Testing;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// A stop is bounded (<see cref="LedgerOptions.StopTimeout"/>): a store that never answers — a lock held by another
/// connection, a server gone — does not hang the ledger's disposal, which then says what it did not commit.
/// </summary>
public sealed class BufferedLedgerStopTests : IDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task A_store_that_never_answers_does_not_hang_the_stop_and_the_log_says_what_was_not_committed()
    {
        await using var store = new ObservedStore(new SqliteLedgerStore(_db.FilePath));
        await store.MigrateAsync();
        var unblock = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Gate = unblock.Task; // the commit waits, as on a lock another connection holds
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        var logger = new ListLogger<BufferedLedger>();
        var options = new LedgerOptions { MaxBatchSize = 2, FlushInterval = TimeSpan.FromHours(1), StopTimeout = TimeSpan.FromSeconds(10) };
        var ledger = new BufferedLedger(store, options, time, logger);
        var records = LedgerRecords.Many(3);
        await ledger.RecordAsync(records[0]);
        await ledger.RecordAsync(records[1]); // a full batch: its commit starts and hangs
        await store.WriteStarted.Task.WaitAsync(Guard);
        await ledger.RecordAsync(records[2]); // buffered behind it

        var stopping = ledger.DisposeAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(stopping.IsCompleted); // it waits for the commit until the bound
        time.Advance(TimeSpan.FromSeconds(1));
        await stopping.WaitAsync(Guard);

        // 2 records in the hung commit + 1 buffered = 3 not committed.
        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Critical && e.Message.Contains("without committing 3 record(s) and 0 budget settlement(s)", StringComparison.Ordinal));

        // The abandoned commit still lands if the store answers after all (the intents' reconciliation skips its ids).
        unblock.SetResult();
        await store.WhenCommitted(2).WaitAsync(Guard);
    }
}
