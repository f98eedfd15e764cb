using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The writer's paths the ledger area's first mutation run (docs/testing.md, sixth session) found untested in
/// <c>ModelMix.Tests</c>: budget settlements through the ledger (they commit at once, with the records queued before
/// them, in one <see cref="IAttemptJournalStore.CommitAsync"/>), a ledger whose store cannot settle, a writer stopped by
/// a broken store (every flush waiting is failed, the records it could not commit are counted in the log, recording is
/// refused), and which store the ledger disposes. The clock never moves: nothing here waits for the flush interval.
/// </summary>
public sealed class BufferedLedgerSurvivorTests : IDisposable
{
    // A guard against a hung test, never a wait for something to happen: every wait below is on a signal.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    // The flush interval is an hour on a clock that stands still: a commit seen here was not the interval's.
    private static readonly LedgerOptions s_options = new() { FlushInterval = TimeSpan.FromHours(1), MaxBatchSize = 100 };

    private readonly TempDatabase _db = new();
    private readonly ArmedClock _time = new();

    public void Dispose() => _db.Dispose();

    private BufferedLedger Ledger(ILedgerStore store, ILogger<BufferedLedger>? logger = null) =>
        new(store, s_options, _time, logger ?? NullLogger<BufferedLedger>.Instance);

    [Fact]
    public async Task A_settlement_commits_at_once_with_the_records_queued_before_it_in_one_commit()
    {
        var store = new JournalSpy();
        await using var ledger = Ledger(store);
        var records = LedgerRecords.Many(2);

        await ledger.RecordAsync(records[0]);
        await _time.Armed.Task.WaitAsync(Guard); // the writer holds record 0 and sleeps out the interval
        await ledger.RecordAsync(records[1]);
        await ((ISettlingLedger)ledger).SettleAsync(new ReservationSettlement("res-1", "req-0")).WaitAsync(Guard); // wakes it

        var commit = Assert.Single(store.Commits);
        Assert.Equal(["rec-00000000", "rec-00000001"], commit.Records.Select(r => r.Id));
        Assert.Equal(["res-1"], commit.Settlements.Select(s => s.ReservationId));
        Assert.Empty(store.Batches); // a settlement never goes through WriteBatchAsync, which cannot settle
    }

    [Fact]
    public async Task A_settlement_alone_is_committed()
    {
        var store = new JournalSpy();
        await using var ledger = Ledger(store);

        await ((ISettlingLedger)ledger).SettleAsync(new ReservationSettlement("res-2", "req-9")).WaitAsync(Guard);

        var commit = Assert.Single(store.Commits);
        Assert.Empty(commit.Records);
        Assert.Equal(["res-2"], commit.Settlements.Select(s => s.ReservationId));
    }

    [Fact]
    public async Task A_ledger_whose_store_cannot_settle_says_so_and_refuses_a_settlement()
    {
        var plain = new ObservedStore(new SqliteLedgerStore(_db.FilePath));
        await plain.MigrateAsync();
        await using (var ledger = Ledger(plain))
        {
            Assert.False(((ISettlingLedger)ledger).CanSettle);
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ((ISettlingLedger)ledger).SettleAsync(new ReservationSettlement("res-3", "req-1")));
            Assert.Equal("The ledger store ObservedStore cannot settle budget reservations.", error.Message);
        }

        await plain.DisposeAsync();
        await using var journaled = Ledger(new JournalSpy());
        Assert.True(((ISettlingLedger)journaled).CanSettle);
    }

    [Fact]
    public async Task A_settlement_after_disposal_is_refused_naming_the_reservation()
    {
        var ledger = Ledger(new JournalSpy());
        await ledger.DisposeAsync();

        var error = await Assert.ThrowsAsync<ObjectDisposedException>(() => ((ISettlingLedger)ledger).SettleAsync(new ReservationSettlement("res-4", "req-2")));

        Assert.Contains("the reservation 'res-4' was not settled", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broken_store_stops_the_writer_fails_every_flush_waiting_and_counts_what_it_lost()
    {
        var broken = new ObjectDisposedException("the store (simulated)");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var store = new JournalSpy { Gate = gate.Task, FailWith = broken };
        var logger = new ListLogger<BufferedLedger>();
        var ledger = Ledger(store, logger);
        var records = LedgerRecords.Many(5);

        await ledger.RecordAsync(records[0]);
        await ledger.RecordAsync(records[1]);
        var first = ledger.FlushAsync(); // the writer commits records 0 and 1 and is held at the gate
        await store.WriteStarted.Task.WaitAsync(Guard);
        await ledger.RecordAsync(records[2]);
        await ledger.RecordAsync(records[3]);
        var second = ledger.FlushAsync(); // queued behind records 2 and 3
        gate.SetResult(); // the commit fails with an error no retry can mend

        Assert.Same(broken, await Assert.ThrowsAsync<ObjectDisposedException>(() => first.WaitAsync(Guard)));
        Assert.Same(broken, await Assert.ThrowsAsync<ObjectDisposedException>(() => second.WaitAsync(Guard)));

        // 2 records in the failed commit + 2 drained from the buffer = 4 lost; the flush requests are not records. The
        // writer logs it after failing the flushes, so the entry is polled for (with a deadline), not assumed there.
        var stopped = await CriticalEntryAsync(logger);
        Assert.Equal("The ledger writer stopped: 4 buffered records could not be committed.", stopped.Message);
        Assert.Same(broken, stopped.Exception);
        Assert.Equal(1, store.WriteCalls); // not retried

        var refused = await Assert.ThrowsAsync<ObjectDisposedException>(() => ledger.RecordAsync(records[4]).AsTask());
        Assert.Contains("the record 'rec-00000004' was not recorded", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disposing_closes_the_store_the_ledger_opened_but_not_one_it_was_given()
    {
        var owned = await BufferedLedger.OpenSqliteAsync(_db.FilePath, s_options, _time);
        await owned.RecordAsync(LedgerRecords.Simple(1));
        await owned.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => owned.Store.CountAsync(LedgerQuery.All));

        await using var given = new SqliteLedgerStore(_db.FilePath);
        await given.MigrateAsync();
        var ledger = Ledger(given);
        await ledger.RecordAsync(LedgerRecords.Simple(2));
        await ledger.DisposeAsync();
        Assert.Equal(2, await given.CountAsync(LedgerQuery.All)); // still open, with both records
    }

    [Fact]
    public async Task Opening_a_ledger_over_a_store_disposes_the_store_when_migrating_or_the_options_fail()
    {
        var failing = new JournalSpy { MigrateFailure = new IOException("disk gone (simulated)") };
        await Assert.ThrowsAsync<IOException>(() => BufferedLedger.OpenOwnedAsync(failing, null, _time, null, CancellationToken.None));
        Assert.True(failing.Disposed);

        var refused = new JournalSpy();
        await Assert.ThrowsAsync<OptionsValidationException>(() => BufferedLedger.OpenOwnedAsync(refused, new LedgerOptions { MaxBatchSize = 0 }, _time, null, CancellationToken.None));
        Assert.True(refused.Disposed);
        Assert.False(refused.Migrated);

        var fine = new JournalSpy();
        var ledger = await BufferedLedger.OpenOwnedAsync(fine, null, _time, null, CancellationToken.None);
        Assert.True(fine.Migrated);
        Assert.False(fine.Disposed);
        await ledger.RecordAsync(LedgerRecords.Simple(3));
        await ledger.FlushAsync().WaitAsync(Guard);
        Assert.Equal(["rec-00000003"], Assert.Single(fine.Batches).Select(r => r.Id));
        await ledger.DisposeAsync();
        Assert.True(fine.Disposed);
    }

    private static async Task<(LogLevel Level, EventId Event, string Message, Exception? Exception)> CriticalEntryAsync(ListLogger<BufferedLedger> logger)
    {
        var deadline = DateTime.UtcNow + Guard;
        while (true)
        {
            var critical = logger.Entries.Where(e => e.Level == LogLevel.Critical).ToList();
            if (critical.Count > 0 || DateTime.UtcNow > deadline)
            {
                return Assert.Single(critical);
            }

            await Task.Delay(10);
        }
    }

    /// <summary>A clock that stands still and says when a timer is first armed (the writer sleeping out the flush interval).</summary>
    private sealed class ArmedClock() : FakeTimeProvider(LedgerRecords.Start)
    {
        public TaskCompletionSource Armed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            if (dueTime > TimeSpan.Zero && dueTime != Timeout.InfiniteTimeSpan)
            {
                Armed.TrySetResult();
            }

            return timer;
        }
    }
}
