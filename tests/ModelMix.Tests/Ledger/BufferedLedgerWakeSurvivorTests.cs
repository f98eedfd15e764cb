using Microsoft.Extensions.Logging;
using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// How the writer goes to sleep and what wakes it, written from the <c>ledger</c> area's mutation run of
/// <c>BufferedLedger.cs</c> (docs/testing.md, seventh session). The writer reads the clock, arms its wake signal, looks
/// again for what arrived meanwhile (a flush, a batch's worth of records, disposal), arms the flush-interval timer and
/// looks at the clock once more. Each test puts an event in one of those windows through a clock that runs a hook on
/// the writer's reading of it, on a clock that otherwise stands still: a writer that missed the event would sleep out
/// an hour that never passes. Also: a full batch's worth arriving while it sleeps wakes it, and a stop that gave up
/// waiting for a failing store ends its retries.
/// </summary>
public sealed class BufferedLedgerWakeSurvivorTests : IDisposable
{
    // A guard against a hung test, never a wait for something to happen: every wait below is on a signal.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    private Task<ObservedStore> OpenStoreAsync() => ObservedStore.OpenSqliteAsync(_db.FilePath);

    private static async Task<List<string>> IdsAsync(ObservedStore store)
    {
        var ids = new List<string>();
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            ids.Add(record.Id);
        }

        return ids;
    }

    private static BufferedLedger Ledger(ILedgerStore store, TimeProvider time, int maxBatchSize = 100, ILogger<BufferedLedger>? logger = null) =>
        new(store, new LedgerOptions { FlushInterval = Hour, MaxBatchSize = maxBatchSize }, time, logger ?? new ListLogger<BufferedLedger>());

    [Fact]
    public async Task A_flush_asked_for_while_the_writer_reads_the_clock_is_not_slept_through()
    {
        var clock = new HookedClock();
        await using var store = await OpenStoreAsync();
        await using var ledger = Ledger(store, clock);
        Task? flushed = null;
        clock.AfterReading(skip: 1, () => flushed = ledger.FlushAsync()); // skip the reading RecordAsync takes

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        await clock.HookRan.Task.WaitAsync(Guard);
        await flushed!.WaitAsync(Guard);

        Assert.Equal([1], store.BatchSizes);
        Assert.Equal(["rec-00000000"], await IdsAsync(store));

        // The flush was counted off when taken: the next record waits out the interval on a timer (not a busy loop).
        await ledger.RecordAsync(LedgerRecords.Simple(1));
        await clock.TimersArmed(Hour, 1).WaitAsync(Guard);
    }

    [Fact]
    public async Task Records_that_fill_the_batch_while_the_writer_reads_the_clock_are_committed_at_once()
    {
        var clock = new HookedClock();
        await using var store = await OpenStoreAsync();
        await using var ledger = Ledger(store, clock, maxBatchSize: 3);
        clock.AfterReading(skip: 1, () =>
        {
            // The writer holds record 0: records 1 and 2 fill its batch (3), though the channel alone holds 2 < 3.
            Assert.True(ledger.RecordAsync(LedgerRecords.Simple(1)).AsTask().IsCompletedSuccessfully);
            Assert.True(ledger.RecordAsync(LedgerRecords.Simple(2)).AsTask().IsCompletedSuccessfully);
        });

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        await store.WhenCommitted(3).WaitAsync(Guard);

        Assert.Equal([3], store.BatchSizes);
        Assert.Equal(["rec-00000000", "rec-00000001", "rec-00000002"], await IdsAsync(store));
    }

    [Fact]
    public async Task Disposal_begun_while_the_writer_reads_the_clock_commits_at_once()
    {
        var clock = new HookedClock();
        await using var store = await OpenStoreAsync();
        var ledger = Ledger(store, clock);
        Task? disposing = null;
        clock.AfterReading(skip: 1, () => disposing = ledger.DisposeAsync().AsTask());

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        await clock.HookRan.Task.WaitAsync(Guard);
        await disposing!.WaitAsync(Guard);

        Assert.Equal([1], store.BatchSizes);
        Assert.Equal(["rec-00000000"], await IdsAsync(store));
    }

    [Fact]
    public async Task A_clock_that_reaches_the_interval_while_the_timer_is_armed_commits_without_waiting_for_it()
    {
        var clock = new HookedClock();
        await using var store = await OpenStoreAsync();
        await using var ledger = Ledger(store, clock);

        // The writer reads "no time has passed" (an hour left), then the clock moves an hour before its timer is armed:
        // that timer would ring an hour late, so the writer looks at the clock again, drops that timer and commits now.
        clock.AfterReading(skip: 1, () => clock.Advance(Hour));
        await ledger.RecordAsync(LedgerRecords.Simple(0));

        await store.WhenCommitted(1).WaitAsync(Guard);
        Assert.Equal(0, clock.LiveTimers);
        Assert.Equal([1], store.BatchSizes);
        Assert.Equal(["rec-00000000"], await IdsAsync(store));
    }

    [Fact]
    public async Task A_record_whose_interval_is_exactly_up_when_the_writer_looks_is_committed()
    {
        var clock = new HookedClock();
        await using var store = await OpenStoreAsync();
        await using var ledger = Ledger(store, clock);

        // The writer reads the clock exactly one interval after the record: nothing remains to wait.
        clock.BeforeReading(skip: 1, () => clock.Advance(Hour));
        await ledger.RecordAsync(LedgerRecords.Simple(0));

        await store.WhenCommitted(1).WaitAsync(Guard);
        Assert.Equal([1], store.BatchSizes);
        Assert.Equal(["rec-00000000"], await IdsAsync(store));
    }

    [Fact]
    public async Task A_full_batch_recorded_while_the_writer_sleeps_wakes_it_and_the_rest_waits_on_a_timer()
    {
        var clock = new HookedClock();
        await using var store = await OpenStoreAsync();
        var logger = new ListLogger<BufferedLedger>();
        await using var ledger = Ledger(store, clock, maxBatchSize: 3, logger);

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        await clock.TimersArmed(Hour, 1).WaitAsync(Guard); // the writer holds record 0 and sleeps out the hour

        // Exactly a batch's worth (3) in the channel wakes it; it fills its batch with 1 and 2 and commits.
        await ledger.RecordAsync(LedgerRecords.Simple(1));
        await ledger.RecordAsync(LedgerRecords.Simple(2));
        await ledger.RecordAsync(LedgerRecords.Simple(3));
        await store.WhenCommitted(3).WaitAsync(Guard);
        Assert.Equal([3], store.BatchSizes);
        Assert.Equal(["rec-00000000", "rec-00000001", "rec-00000002"], await IdsAsync(store));

        // Record 3 was counted off when taken: it waits on a second timer rather than looking again at once forever.
        await clock.TimersArmed(Hour, 2).WaitAsync(Guard);
        Assert.Empty(logger.Entries); // a commit that succeeded the first time logs nothing (no "succeeded after")
    }

    [Fact]
    public async Task A_stop_that_gave_up_on_a_failing_store_ends_its_retries()
    {
        var clock = new HookedClock();
        await using var store = await OpenStoreAsync();
        store.FailNextWrites(int.MaxValue);
        var logger = new ListLogger<BufferedLedger>();
        var retry = TimeSpan.FromHours(2);
        var options = new LedgerOptions { FlushInterval = Hour, MaxBatchSize = 1, RetryBaseDelay = retry, RetryMaxDelay = retry, StopTimeout = TimeSpan.FromSeconds(10) };
        var ledger = new BufferedLedger(store, options, clock, logger);

        await ledger.RecordAsync(LedgerRecords.Simple(0)); // a full batch: committed at once, and it fails
        await clock.TimersArmed(retry, 1).WaitAsync(Guard); // the writer waits 2 h before its second attempt

        var stopping = ledger.DisposeAsync().AsTask();
        await clock.TimersArmed(options.StopTimeout, 1).WaitAsync(Guard);
        clock.Advance(options.StopTimeout);
        await stopping.WaitAsync(Guard); // the stop gave up waiting

        // The second attempt fails too; the stop has given up, so the writer retries no more and says what it lost.
        clock.Advance(retry);
        var stopped = await Poll.UntilAsync(() => logger.Entries.FirstOrDefault(e => e.Event.Id == 4004).Message, Guard);
        Assert.Equal("The ledger writer stopped: 1 buffered records could not be committed.", stopped);
        Assert.Equal(2, store.WriteCalls);
    }
}
