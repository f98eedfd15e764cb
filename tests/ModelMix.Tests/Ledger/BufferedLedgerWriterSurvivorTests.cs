using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The writer's loop (<c>RunWriterAsync</c>, <c>FillBatchAsync</c>, the commit and its retries: <c>BufferedLedger.cs</c>
/// from line 322), written from the <c>ledger</c> area's mutation run of that half of the file (docs/testing.md,
/// twelfth session): a flush with nothing buffered asks nothing of the store, and a writer holding a batch sleeps on
/// one timer until it is woken instead of looking again and again. Every clock here stands still unless the test
/// moves it; every wait is on a signal, with a guard against a hung test.
/// </summary>
public sealed class BufferedLedgerWriterSurvivorTests
{
    // A guard against a hung test, never a wait for something to happen.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private static BufferedLedger Ledger(ILedgerStore store, TimeProvider time) =>
        new(store, new LedgerOptions { FlushInterval = Hour, MaxBatchSize = 100 }, time, NullLogger<BufferedLedger>.Instance);

    [Fact]
    public async Task A_flush_with_nothing_buffered_asks_nothing_of_the_store()
    {
        var store = new JournalSpy();
        await using var ledger = Ledger(store, new TimerCountingClock());

        await ledger.FlushAsync().WaitAsync(Guard);
        Assert.Equal(0, store.WriteCalls);

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        await ledger.FlushAsync().WaitAsync(Guard);
        await ledger.FlushAsync().WaitAsync(Guard); // everything is committed already: nothing more to write

        Assert.Equal(1, store.WriteCalls);
        Assert.Equal(["rec-00000000"], Assert.Single(store.Batches).Select(r => r.Id));
        Assert.Empty(store.Commits);
    }

    [Fact]
    public async Task A_writer_holding_a_batch_sleeps_on_one_timer_until_it_is_woken()
    {
        var clock = new TimerCountingClock();
        var store = new JournalSpy();
        await using var ledger = Ledger(store, clock);

        // Twenty sleeps, each woken by a flush once the writer has armed its timer. A writer that did not wait on the
        // timer (or looked at the clock, dropped the timer and went round again) would arm one timer per look while
        // the test goes on: it would have to lose that race twenty times running to show exactly one per sleep.
        const int sleeps = 20;
        for (var i = 0; i < sleeps; i++)
        {
            await ledger.RecordAsync(LedgerRecords.Simple(i));
            await clock.WhenCreated(i + 1).WaitAsync(Guard); // the writer holds record i and sleeps out the hour
            await ledger.FlushAsync().WaitAsync(Guard);
        }

        Assert.Equal(sleeps, clock.Created);
        Assert.All(clock.DueTimes, due => Assert.Equal(Hour, due)); // the clock never moved: a whole hour each time
        Assert.Equal(Enumerable.Range(0, sleeps).Select(i => $"rec-{i:D8}"), store.Batches.Select(b => Assert.Single(b).Id));
    }

    /// <summary>A clock that stands still unless advanced and counts the timers armed on it.</summary>
    private sealed class TimerCountingClock() : FakeTimeProvider(LedgerRecords.Start)
    {
        private readonly Lock _lock = new();
        private readonly List<TimeSpan> _due = [];
        private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];

        public int Created
        {
            get
            {
                lock (_lock)
                {
                    return _due.Count;
                }
            }
        }

        public IReadOnlyList<TimeSpan> DueTimes
        {
            get
            {
                lock (_lock)
                {
                    return _due.ToList();
                }
            }
        }

        /// <summary>Completes once <paramref name="count"/> timers have been armed.</summary>
        public Task WhenCreated(int count)
        {
            lock (_lock)
            {
                if (_due.Count >= count)
                {
                    return Task.CompletedTask;
                }

                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((count, done));
                return done.Task;
            }
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            lock (_lock)
            {
                _due.Add(dueTime);
                foreach (var waiter in _waiters.Where(w => _due.Count >= w.Count).ToList())
                {
                    waiter.Done.TrySetResult();
                    _waiters.Remove(waiter);
                }
            }

            return timer;
        }
    }
}
