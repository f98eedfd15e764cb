using Microsoft.Extensions.Time.Testing;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// A clock that stands still unless advanced, runs a hook once on a chosen reading of its timestamp (before or
/// after the reading), says when timers of a given due time have been armed, and counts the timers still live (armed
/// and neither fired nor disposed: a timer <c>Task.Delay</c> fires or whose delay is cancelled is disposed).
/// </summary>
internal sealed class HookedClock() : FakeTimeProvider(LedgerRecords.Start)
{
    private readonly Lock _lock = new();
    private readonly List<TimeSpan> _armed = [];
    private readonly List<(TimeSpan Due, int Count, TaskCompletionSource Done)> _waiters = [];
    private Action? _hook;
    private bool _hookBefore;
    private int _skip;
    private int _live;

    public TaskCompletionSource HookRan { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Timers created and not yet disposed.</summary>
    public int LiveTimers => Volatile.Read(ref _live);

    /// <summary>Runs <paramref name="hook"/> after the reading that follows the next <paramref name="skip"/> ones: the reader sees the clock as it was.</summary>
    public void AfterReading(int skip, Action hook) => Set(skip, hook, before: false);

    /// <summary>Runs <paramref name="hook"/> before that reading: the reader sees what the hook did to the clock.</summary>
    public void BeforeReading(int skip, Action hook) => Set(skip, hook, before: true);

    private void Set(int skip, Action hook, bool before)
    {
        lock (_lock)
        {
            _skip = skip;
            _hookBefore = before;
            _hook = hook;
        }
    }

    public override long GetTimestamp()
    {
        Action? hook = null;
        bool before;
        lock (_lock)
        {
            before = _hookBefore;
            if (_hook is not null && _skip-- == 0)
            {
                hook = _hook;
                _hook = null;
            }
        }

        if (hook is not null && before)
        {
            hook();
        }

        var now = base.GetTimestamp();
        if (hook is not null)
        {
            if (!before)
            {
                hook();
            }

            HookRan.TrySetResult();
        }

        return now;
    }

    /// <summary>Completes once <paramref name="count"/> timers due in <paramref name="due"/> have been armed.</summary>
    public Task TimersArmed(TimeSpan due, int count)
    {
        lock (_lock)
        {
            if (_armed.Count(d => d == due) >= count)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((due, count, done));
            return done.Task;
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new CountedTimer(base.CreateTimer(callback, state, dueTime, period), this);
        Interlocked.Increment(ref _live);
        lock (_lock)
        {
            _armed.Add(dueTime);
            foreach (var waiter in _waiters.Where(w => _armed.Count(d => d == w.Due) >= w.Count).ToList())
            {
                waiter.Done.TrySetResult();
                _waiters.Remove(waiter);
            }
        }

        return timer;
    }

    private sealed class CountedTimer(ITimer inner, HookedClock clock) : ITimer
    {
        private int _disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(dueTime, period);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref clock._live);
            }

            inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return default;
        }
    }
}
