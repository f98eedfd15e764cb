using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Ledger;
using ModelMix.Stores;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The <see cref="BufferedLedger"/> paths the <c>ledger</c> area's mutation run of <c>BufferedLedger.cs</c> (docs/testing.md,
/// eleventh session) left unchecked: how the ledger is opened (from a store setting, with the caller's options, clock
/// and loggers), what a stop that gives up counts and leaves open, a flush during a stop, what follows a settlement
/// (counted off, not sent again, records queued behind it in the same commit, one asked for in the writer's window),
/// a record that waited for room in a full buffer, the interval measured from a batch's first record, a timer disarmed
/// when the writer wakes early, and a writer stopped by a broken store failing later flushes too. Every clock here
/// stands still unless the test moves it; every wait is on a signal or polled with a deadline.
/// </summary>
public sealed class BufferedLedgerMutationTests : IDisposable
{
    // A guard against a hung test, never a wait for something to happen.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private static readonly LedgerOptions s_options = new() { FlushInterval = Hour, MaxBatchSize = 100 };

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    private Task<ObservedStore> OpenStoreAsync() => ObservedStore.OpenSqliteAsync(_db.FilePath);

    private static BufferedLedger Ledger(ILedgerStore store, TimeProvider time, LedgerOptions? options = null, ILogger<BufferedLedger>? logger = null) =>
        new(store, options ?? s_options, time, logger ?? NullLogger<BufferedLedger>.Instance);

    private static ReservationSettlement Settlement(int i) => new($"res-{i}", $"req-{i}");

    [Fact]
    public async Task OpenAsync_on_a_store_setting_keeps_the_options_and_the_clock_it_is_given()
    {
        StoreBackends.Register(SqliteStoreBackend.Instance);
        var clock = new HookedClock();
        await using var ledger = await BufferedLedger.OpenAsync(_db.FilePath, new LedgerOptions { MaxBatchSize = 2, FlushInterval = Hour }, clock);

        // Three records, the clock still: a batch of 2 (the options', not the default 1,000) is committed at once.
        foreach (var record in LedgerRecords.Many(3))
        {
            await ledger.RecordAsync(record);
        }

        await CountReachesAsync(ledger.Store, 2);

        // The third is committed when the given clock (not the system's) says its hour is up.
        clock.Advance(Hour);
        await CountReachesAsync(ledger.Store, 3);
    }

    [Fact]
    public async Task OpenAsync_without_options_uses_the_defaults()
    {
        StoreBackends.Register(SqliteStoreBackend.Instance);
        await using var ledger = await BufferedLedger.OpenAsync(Path.Combine(_db.Folder, "defaults.db"), time: new HookedClock());

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        await ledger.FlushAsync().WaitAsync(Guard);

        Assert.Equal(1, await ledger.Store.CountAsync(LedgerQuery.All));
    }

    [Fact]
    public async Task A_ledger_opened_over_a_store_logs_through_the_loggers_it_is_given_and_a_stopped_writer_fails_every_later_flush()
    {
        var broken = new ObjectDisposedException("the store (simulated)");
        var store = new JournalSpy { FailWith = broken };
        var loggers = new LedgerLoggers();
        var ledger = await BufferedLedger.OpenOwnedAsync(store, s_options, new HookedClock(), loggers, CancellationToken.None);

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        Assert.Same(broken, await Assert.ThrowsAsync<ObjectDisposedException>(() => ledger.FlushAsync().WaitAsync(Guard)));

        var stopped = await Poll.UntilAsync(() => loggers.Ledger.Entries.FirstOrDefault(e => e.Level == LogLevel.Critical).Message, Guard);
        Assert.Equal("The ledger writer stopped: 1 buffered records could not be committed.", stopped);

        // A flush after the writer stopped is not answered as if everything were committed: it fails with the store's error.
        Assert.Same(broken, await Assert.ThrowsAsync<ObjectDisposedException>(() => ledger.FlushAsync().WaitAsync(Guard)));
    }

    [Fact]
    public async Task A_stop_that_gives_up_counts_the_settlements_it_did_not_commit_and_leaves_the_store_it_opened_open()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var store = new JournalSpy { Gate = gate.Task };
        var clock = new HookedClock();
        var loggers = new LedgerLoggers();
        var options = new LedgerOptions { FlushInterval = Hour, MaxBatchSize = 100, StopTimeout = TimeSpan.FromSeconds(10) };
        var ledger = await BufferedLedger.OpenOwnedAsync(store, options, clock, loggers, CancellationToken.None);

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        var first = ((ISettlingLedger)ledger).SettleAsync(Settlement(1)); // record 0 and res-1 in one commit, held at the gate
        await store.WriteStarted.Task.WaitAsync(Guard);
        await ledger.RecordAsync(LedgerRecords.Simple(1));
        await ledger.RecordAsync(LedgerRecords.Simple(2));
        var second = ((ISettlingLedger)ledger).SettleAsync(Settlement(2)); // queued behind the held commit

        var stopping = ledger.DisposeAsync().AsTask();
        await clock.TimersArmed(options.StopTimeout, 1).WaitAsync(Guard);
        clock.Advance(options.StopTimeout);
        await stopping.WaitAsync(Guard);

        // Held: 1 record + 1 settlement; queued: 2 records + 1 settlement. Not committed: 3 records and 2 settlements.
        var gaveUp = Assert.Single(loggers.Ledger.Entries, e => e.Event.Id == 4006);
        Assert.Contains("without committing 3 record(s) and 2 budget settlement(s)", gaveUp.Message, StringComparison.Ordinal);
        Assert.False(store.Disposed); // not closed under a commit that never ended
        Assert.False(first.IsCompleted);
        Assert.False(second.IsCompleted);

        // The store answers after all: both commits land, in order; the store is still not closed.
        gate.SetResult();
        await Task.WhenAll(first, second).WaitAsync(Guard);
        Assert.Equal([["rec-00000000"], ["rec-00000001", "rec-00000002"]], store.Commits.Select(c => c.Records.Select(r => r.Id).ToArray()));
        Assert.Equal([["res-1"], ["res-2"]], store.Commits.Select(c => c.Settlements.Select(s => s.ReservationId).ToArray()));
        Assert.False(store.Disposed);
    }

    [Fact]
    public async Task A_flush_asked_for_while_the_ledger_stops_returns_once_the_stop_has_committed()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var store = await OpenStoreAsync();
        store.Gate = gate.Task;
        var ledger = Ledger(store, new HookedClock());

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        var stopping = ledger.DisposeAsync().AsTask();
        await store.WriteStarted.Task.WaitAsync(Guard); // the stop's commit of record 0 is held

        var flushed = ledger.FlushAsync();
        Assert.False(flushed.IsCompleted); // the buffer is closed, but record 0 is not committed yet

        gate.SetResult();
        await flushed.WaitAsync(Guard);
        Assert.Equal(1, store.Committed);
        await stopping.WaitAsync(Guard);
    }

    [Fact]
    public async Task Disposing_twice_closes_the_store_the_ledger_opened_once()
    {
        var store = new JournalSpy();
        var ledger = await BufferedLedger.OpenOwnedAsync(store, s_options, new HookedClock(), null, CancellationToken.None);

        await ledger.DisposeAsync();
        await ledger.DisposeAsync();

        Assert.Equal(1, store.Disposals);
    }

    [Fact]
    public async Task After_a_settlement_the_next_record_sleeps_out_the_interval_and_is_committed_without_it()
    {
        var clock = new HookedClock();
        var store = new JournalSpy();
        await using var ledger = Ledger(store, clock);

        await ((ISettlingLedger)ledger).SettleAsync(Settlement(1)).WaitAsync(Guard);
        await ledger.RecordAsync(LedgerRecords.Simple(0));

        // The settlement was counted off when taken: the writer waits on a timer, not in a loop that looks again at once.
        await clock.TimersArmed(Hour, 1).WaitAsync(Guard);

        await ledger.FlushAsync().WaitAsync(Guard);
        var settled = Assert.Single(store.Commits);
        Assert.Equal(["res-1"], settled.Settlements.Select(s => s.ReservationId));
        Assert.Empty(settled.Records);
        Assert.Equal(["rec-00000000"], Assert.Single(store.Batches).Select(r => r.Id)); // not settled a second time
    }

    [Fact]
    public async Task A_settlement_asked_for_while_the_writer_reads_the_clock_is_not_slept_through()
    {
        var clock = new HookedClock();
        var store = new JournalSpy();
        await using var ledger = Ledger(store, clock);
        Task? settled = null;
        clock.AfterReading(skip: 1, () => settled = ((ISettlingLedger)ledger).SettleAsync(Settlement(1))); // skip the reading RecordAsync takes

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        await clock.HookRan.Task.WaitAsync(Guard);
        await settled!.WaitAsync(Guard);

        var commit = Assert.Single(store.Commits);
        Assert.Equal(["rec-00000000"], commit.Records.Select(r => r.Id));
        Assert.Equal(["res-1"], commit.Settlements.Select(s => s.ReservationId));
    }

    [Fact]
    public async Task Records_queued_behind_a_settlement_share_its_commit()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var store = new JournalSpy { Gate = gate.Task };
        await using var ledger = Ledger(store, new HookedClock());

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        var flushed = ledger.FlushAsync();
        await store.WriteStarted.Task.WaitAsync(Guard); // record 0's commit is held: what follows queues up
        var settled = ((ISettlingLedger)ledger).SettleAsync(Settlement(1));
        await ledger.RecordAsync(LedgerRecords.Simple(1));
        await ledger.RecordAsync(LedgerRecords.Simple(2));

        gate.SetResult();
        await Task.WhenAll(flushed, settled).WaitAsync(Guard);

        Assert.Equal(["rec-00000000"], Assert.Single(store.Batches).Select(r => r.Id));
        var commit = Assert.Single(store.Commits);
        Assert.Equal(["rec-00000001", "rec-00000002"], commit.Records.Select(r => r.Id));
        Assert.Equal(["res-1"], commit.Settlements.Select(s => s.ReservationId));
    }

    [Fact]
    public async Task A_record_that_waited_for_room_counts_towards_the_batch_that_wakes_the_writer()
    {
        var clock = new HookedClock();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var store = await OpenStoreAsync();
        await using var ledger = Ledger(store, clock, new LedgerOptions { FlushInterval = Hour, MaxBatchSize = 2, Capacity = 2 });

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        await clock.TimersArmed(Hour, 1).WaitAsync(Guard); // the writer holds record 0 and sleeps
        store.Gate = gate.Task;
        var flushed = ledger.FlushAsync(); // wakes it: record 0's commit is held at the gate
        await store.WriteStarted.Task.WaitAsync(Guard);
        await ledger.RecordAsync(LedgerRecords.Simple(1));
        await ledger.RecordAsync(LedgerRecords.Simple(2)); // the buffer (2) is full
        var waited = ledger.RecordAsync(LedgerRecords.Simple(3)).AsTask();
        Assert.False(waited.IsCompleted);

        // Released: records 1 and 2 are a full batch; record 3 takes their room and the writer sleeps holding it.
        gate.SetResult();
        await Task.WhenAll(flushed, waited).WaitAsync(Guard);
        await clock.TimersArmed(Hour, 2).WaitAsync(Guard);

        // Two more in the buffer are a batch's worth there: the writer wakes and commits record 3 with record 4.
        await ledger.RecordAsync(LedgerRecords.Simple(4));
        await ledger.RecordAsync(LedgerRecords.Simple(5));
        await store.WhenCommitted(5).WaitAsync(Guard);
        Assert.Equal([1, 2, 2], store.BatchSizes);
    }

    [Fact]
    public async Task The_interval_runs_from_a_batch_s_first_record_and_again_for_the_next_batch()
    {
        var clock = new HookedClock();
        await using var store = await OpenStoreAsync();
        await using var ledger = Ledger(store, clock);

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        await clock.TimersArmed(Hour, 1).WaitAsync(Guard);
        clock.Advance(TimeSpan.FromMinutes(30));
        await ledger.RecordAsync(LedgerRecords.Simple(1));
        clock.Advance(TimeSpan.FromMinutes(30)); // an hour after record 0, half an hour after record 1: the batch is due
        await store.WhenCommitted(2).WaitAsync(Guard);
        Assert.Equal([2], store.BatchSizes);

        await ledger.RecordAsync(LedgerRecords.Simple(2));
        await clock.TimersArmed(Hour, 2).WaitAsync(Guard); // the writer goes on, and sleeps out record 2's hour
        clock.Advance(Hour);
        await store.WhenCommitted(3).WaitAsync(Guard);
        Assert.Equal([2, 1], store.BatchSizes);
    }

    [Fact]
    public async Task A_writer_woken_before_its_interval_disarms_its_timer()
    {
        var clock = new HookedClock();
        await using var store = await OpenStoreAsync();
        await using var ledger = Ledger(store, clock);

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        await clock.TimersArmed(Hour, 1).WaitAsync(Guard);
        Assert.Equal(1, clock.LiveTimers);

        await ledger.FlushAsync().WaitAsync(Guard);
        Assert.Equal(0, clock.LiveTimers); // cancelled, not left armed to ring an hour later
    }

    [Fact]
    public async Task A_full_buffer_smaller_than_a_batch_wakes_the_writer_instead_of_holding_callers_for_the_interval()
    {
        // Capacity 2 below MaxBatchSize 10 (the options allow it). The writer sleeps with one record in its batch; two more
        // fill the buffer. Woken only at a batch's worth (10 - 1 = 9 waiting, which a buffer of 2 never holds), it would
        // let the next caller wait for room until the interval is up: an hour of a clock that stands still here.
        await using var store = await OpenStoreAsync();
        var clock = new HookedClock();
        await using var ledger = Ledger(store, clock, new LedgerOptions { FlushInterval = Hour, MaxBatchSize = 10, Capacity = 2 });
        var records = LedgerRecords.Many(4).ToList();

        await ledger.RecordAsync(records[0]);
        var deadline = DateTime.UtcNow + Guard;
        while (clock.LiveTimers == 0) // the writer took the record and sleeps out the interval
        {
            Assert.True(DateTime.UtcNow < deadline, "the writer never went to sleep");
            await Task.Delay(10);
        }

        await ledger.RecordAsync(records[1]).AsTask().WaitAsync(Guard);
        await ledger.RecordAsync(records[2]).AsTask().WaitAsync(Guard);
        await ledger.RecordAsync(records[3]).AsTask().WaitAsync(Guard); // room only if the writer woke to take the buffer

        // And nothing is lost: the batch commits when the hour is up.
        clock.Advance(Hour);
        await CountReachesAsync(store, 4);
    }

    private static async Task CountReachesAsync(ILedgerStore store, long count)
    {
        var deadline = DateTime.UtcNow + Guard;
        while (await store.CountAsync(LedgerQuery.All) < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"fewer than {count} records committed before the deadline");
            await Task.Delay(10);
        }
    }

    /// <summary>Loggers whose <see cref="BufferedLedger"/> logger keeps its entries; the others log nothing.</summary>
    private sealed class LedgerLoggers : ILoggerFactory
    {
        public ListLogger<BufferedLedger> Ledger { get; } = new();

        public ILogger CreateLogger(string categoryName) =>
            categoryName == typeof(BufferedLedger).FullName ? Ledger : NullLogger.Instance;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }
    }
}
