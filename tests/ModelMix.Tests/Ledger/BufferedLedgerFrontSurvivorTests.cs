using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The first half of <c>BufferedLedger.cs</c> (lines 1–321: construction, recording, flushes, the stop's shared bound,
/// settlements, disposal), written from the <c>ledger</c> area's twelfth-session mutation run of that half
/// (docs/testing.md): how much of <see cref="LedgerOptions.StopTimeout"/> a disposal has left after the host's flush
/// (<c>FlushBeforeStopAsync</c>) returned early or ran out, disposal waking a writer that sleeps out the flush interval,
/// and the options of <see cref="BufferedLedger.OpenAsync"/> refused before the store setting is read. Every clock here
/// stands still unless the test moves it; every wait is on a signal, a guard against a hung test only.
/// </summary>
public sealed class BufferedLedgerFrontSurvivorTests : IDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    private static BufferedLedger Ledger(ILedgerStore store, TimeProvider time, int maxBatchSize, ILogger<BufferedLedger> logger) =>
        new(store, new LedgerOptions { FlushInterval = Hour, MaxBatchSize = maxBatchSize, StopTimeout = StopTimeout }, time, logger);

    [Fact]
    public async Task A_disposal_after_a_flush_that_returned_early_waits_only_what_is_left_of_the_stop_timeout()
    {
        var clock = new HookedClock();
        await using var store = await ObservedStore.OpenSqliteAsync(_db.FilePath);
        var logger = new ListLogger<BufferedLedger>();
        var ledger = Ledger(store, clock, maxBatchSize: 1, logger);

        // The host's stop begins: its flush finds nothing buffered and returns at once. The stop's bound runs from here.
        await ledger.FlushBeforeStopAsync(CancellationToken.None).WaitAsync(Guard);

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Gate = gate.Task;
        await ledger.RecordAsync(LedgerRecords.Simple(0)); // a full batch (1): its commit starts and hangs
        await store.WriteStarted.Task.WaitAsync(Guard);
        clock.Advance(TimeSpan.FromSeconds(4));

        // 10 s from the stop's first step, 4 s of them spent: the disposal waits 10 - 4 = 6 s, not another 10 (nor 14).
        var stopping = ledger.DisposeAsync().AsTask();
        await clock.TimersArmed(TimeSpan.FromSeconds(6), 1).WaitAsync(Guard);
        Assert.False(stopping.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(6));
        await stopping.WaitAsync(Guard);

        var gaveUp = Assert.Single(logger.Entries, e => e.Event.Id == 4006);
        Assert.Contains("without committing 1 record(s) and 0 budget settlement(s)", gaveUp.Message, StringComparison.Ordinal);

        gate.SetResult(); // the abandoned commit still lands when the store answers
        await store.WhenCommitted(1).WaitAsync(Guard);
    }

    [Fact]
    public async Task A_disposal_after_a_flush_that_outran_the_stop_timeout_gives_up_at_once()
    {
        var clock = new HookedClock();
        await using var store = await ObservedStore.OpenSqliteAsync(_db.FilePath);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Gate = gate.Task;
        var logger = new ListLogger<BufferedLedger>();
        var ledger = Ledger(store, clock, maxBatchSize: 1, logger);
        await ledger.RecordAsync(LedgerRecords.Simple(0)); // its commit starts and hangs
        await store.WriteStarted.Task.WaitAsync(Guard);

        var flushing = ledger.FlushBeforeStopAsync(CancellationToken.None);
        await clock.TimersArmed(StopTimeout, 1).WaitAsync(Guard);
        clock.Advance(TimeSpan.FromSeconds(11)); // past the bound: 10 - 11 = -1 s left, which is none, not a negative wait
        await flushing.WaitAsync(Guard);

        // Nothing left of the bound: the disposal gives up at once (no clock advance) and says what it did not commit.
        await ledger.DisposeAsync().AsTask().WaitAsync(Guard);
        var gaveUp = Assert.Single(logger.Entries, e => e.Event.Id == 4006);
        Assert.Contains("without committing 1 record(s) and 0 budget settlement(s)", gaveUp.Message, StringComparison.Ordinal);

        gate.SetResult();
        await store.WhenCommitted(1).WaitAsync(Guard);
    }

    [Fact]
    public async Task Disposing_wakes_a_writer_that_sleeps_out_the_interval_and_commits_at_once()
    {
        var clock = new HookedClock();
        var store = new JournalSpy();
        var logger = new ListLogger<BufferedLedger>();
        var ledger = Ledger(store, clock, maxBatchSize: 100, logger);

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        await ledger.RecordAsync(LedgerRecords.Simple(1));
        await clock.TimersArmed(Hour, 1).WaitAsync(Guard); // the writer holds both and sleeps out an hour that never passes

        await ledger.DisposeAsync().AsTask().WaitAsync(Guard); // the clock does not move: only the disposal's wake ends the sleep

        Assert.Equal(["rec-00000000", "rec-00000001"], Assert.Single(store.Batches).Select(r => r.Id));
        Assert.DoesNotContain(logger.Entries, e => e.Event.Id == 4006); // committed, not given up on
    }

    [Fact]
    public async Task OpenAsync_refuses_bad_options_before_it_reads_the_store_setting()
    {
        // Both are wrong (a batch of 0, a blank setting): the options are checked first, before any store is made for them.
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => BufferedLedger.OpenAsync(" ", new LedgerOptions { MaxBatchSize = 0 }, new HookedClock()));

        Assert.Contains("MaxBatchSize", error.Message, StringComparison.Ordinal);
    }
}
