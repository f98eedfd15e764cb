using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace ModelMix.IntegrationTests.Support;

/// <summary>
/// The proxy's clock in tests: a <see cref="FakeTimeProvider"/> (time moves only when the test advances it) that also
/// notes the delays the proxy's retry pipeline asks it for. A retry waits on this clock, so the wait is asserted —
/// its length read from the armed timer, the retry seen not to happen a moment before it is due — and never slept.
/// </summary>
/// <remarks>
/// The retry pipeline is Polly's, which waits through <c>Task.Delay(delay, timeProvider)</c>: a timer armed from inside
/// Polly's retry strategy is a retry wait. Other timers on the same clock (the ledger's flush timer, the budget sweep)
/// are told apart by that, not by their length.
/// </remarks>
internal sealed class ProxyClock : FakeTimeProvider
{
    private readonly Lock _lock = new();
    private readonly List<TimeSpan> _retryWaits = [];
    private TaskCompletionSource _retryArmed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _released;

    /// <summary>A fixed instant well inside every catalog price's period: 2026-11-10 12:00 UTC (a Tuesday).</summary>
    public static readonly DateTimeOffset Epoch = new(2026, 11, 10, 12, 0, 0, TimeSpan.Zero);

    public ProxyClock(DateTimeOffset? start = null)
        : base(start ?? Epoch)
    {
    }

    /// <summary>The retry waits armed so far, in order.</summary>
    public IReadOnlyList<TimeSpan> RetryWaits
    {
        get
        {
            lock (_lock)
            {
                return _retryWaits.ToList();
            }
        }
    }

    /// <summary>Completes when the next retry wait is armed (one already armed and not yet awaited counts).</summary>
    public Task RetryArmed
    {
        get
        {
            lock (_lock)
            {
                return _retryArmed.Task;
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (Volatile.Read(ref _released))
        {
            // After Release: every wait is over at once (on the system clock), so nothing holds the proxy's shut-down.
            return System.CreateTimer(callback, state, dueTime == Timeout.InfiniteTimeSpan ? dueTime : TimeSpan.Zero, period);
        }

        if (dueTime != Timeout.InfiniteTimeSpan && IsRetryWait(new StackTrace()))
        {
            lock (_lock)
            {
                _retryWaits.Add(dueTime);
                _retryArmed.TrySetResult();
            }
        }

        return base.CreateTimer(callback, state, dueTime, period);
    }

    /// <summary>Forgets the waits seen so far (<see cref="RetryArmed"/> then waits for the next one).</summary>
    public void ResetRetryWaits()
    {
        lock (_lock)
        {
            _retryWaits.Clear();
            _retryArmed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>
    /// Ends every wait, armed or to come: a test that failed with a request still waiting on the clock (a retry the
    /// test never lets happen) must not hold the proxy's shut-down until its timeout. Called before disposing.
    /// </summary>
    public void Release()
    {
        Volatile.Write(ref _released, true);
        Advance(TimeSpan.FromDays(1));
    }

    private static bool IsRetryWait(StackTrace stack) =>
        stack.GetFrames().Any(frame => frame.GetMethod()?.DeclaringType?.FullName?.StartsWith("Polly.Retry.", StringComparison.Ordinal) == true);
}
