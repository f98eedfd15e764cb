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

    [Fact]
    public async Task A_hosts_stop_that_flushes_then_disposes_waits_one_stop_timeout_in_all()
    {
        await using var store = new ObservedStore(new SqliteLedgerStore(_db.FilePath));
        await store.MigrateAsync();
        var unblock = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Gate = unblock.Task; // the commit waits, as on a lock another connection holds
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        var logger = new ListLogger<BufferedLedger>();
        var options = new LedgerOptions { MaxBatchSize = 1, FlushInterval = TimeSpan.FromHours(1), StopTimeout = TimeSpan.FromSeconds(10) };
        var ledger = new BufferedLedger(store, options, time, logger);
        await ledger.RecordAsync(LedgerRecords.Many(1)[0]); // a full batch: its commit starts and hangs
        await store.WriteStarted.Task.WaitAsync(Guard);

        // The proxy's stop (ProxyStartup, HostedLedger): a flush first, with the host's token, which is not cancelled
        // here (the host's own shutdown timeout is 30 s); it used to wait for that token alone.
        var flushing = ledger.FlushBeforeStopAsync(CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(6));
        Assert.False(flushing.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(4));
        await flushing.WaitAsync(Guard); // the bound, not the commit, ended it
        Assert.False(store.WhenCommitted(1).IsCompleted);

        // The disposal after it waits no longer: the 10 s were spent. No clock advance is needed for it to end.
        await ledger.DisposeAsync().AsTask().WaitAsync(Guard);
        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Critical && e.Message.Contains("without committing 1 record(s)", StringComparison.Ordinal));

        unblock.SetResult();
        await store.WhenCommitted(1).WaitAsync(Guard);
    }

    [Fact]
    public async Task A_flush_before_the_stop_that_commits_in_time_leaves_the_disposal_nothing_to_give_up()
    {
        var (store, ledger, logger) = await ThreeBufferedRecordsAsync();
        await using var owned = store;

        await ledger.FlushBeforeStopAsync(CancellationToken.None).WaitAsync(Guard); // committed at once: no clock advance
        Assert.Equal(3, (await store.GetTotalsAsync(new LedgerQuery())).Count);
        await ledger.DisposeAsync().AsTask().WaitAsync(Guard);
        Assert.DoesNotContain(logger.Entries, e => e.Level == LogLevel.Critical);
    }

    [Fact]
    public async Task A_flush_before_the_stop_after_the_hosts_shutdown_timeout_gives_way_without_throwing_and_the_disposal_commits()
    {
        var (store, ledger, logger) = await ThreeBufferedRecordsAsync();
        await using var owned = store;

        // The host's token when a long request used up its shutdown timeout before this step: already cancelled. The
        // flush used to throw OperationCanceledException, which failed the host's stop (serve exited on it, code 1).
        using var shutdownTimedOut = new CancellationTokenSource();
        await shutdownTimedOut.CancelAsync();
        await ledger.FlushBeforeStopAsync(shutdownTimedOut.Token).WaitAsync(Guard);

        await ledger.DisposeAsync().AsTask().WaitAsync(Guard); // the buffered records still commit, within the StopTimeout
        Assert.Equal(3, (await store.GetTotalsAsync(new LedgerQuery())).Count);
        Assert.DoesNotContain(logger.Entries, e => e.Level == LogLevel.Critical);
    }

    /// <summary>A ledger (10 s StopTimeout, nothing committed before a flush) holding three buffered records, on a store that answers.</summary>
    private async Task<(ObservedStore Store, BufferedLedger Ledger, ListLogger<BufferedLedger> Logger)> ThreeBufferedRecordsAsync()
    {
        var store = new ObservedStore(new SqliteLedgerStore(_db.FilePath));
        await store.MigrateAsync();
        var logger = new ListLogger<BufferedLedger>();
        var options = new LedgerOptions { MaxBatchSize = 100, FlushInterval = TimeSpan.FromHours(1), StopTimeout = TimeSpan.FromSeconds(10) };
        var ledger = new BufferedLedger(store, options, new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero)), logger);
        foreach (var record in LedgerRecords.Many(3))
        {
            await ledger.RecordAsync(record);
        }

        return (store, ledger, logger);
    }
}
