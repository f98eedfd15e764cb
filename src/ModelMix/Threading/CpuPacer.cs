namespace ModelMix.Threading;

/// <summary>
/// Paces a long burst of synchronous CPU work done in the background (the ledger's SQLite commit of a full batch,
/// about 10 ms of CPU) so it does not hold a core that latency-bound threads are waiting for: every
/// <see cref="Slice"/> of work, <see cref="Tick"/> yields the processor (<see cref="Thread.Yield"/>).
/// </summary>
/// <remarks>
/// Why: a thread that wakes while a busy thread holds the core may wait for that thread's time slice, and in
/// measurements neither a lower nice value nor <c>SCHED_IDLE</c> for the busy thread changed that. On a
/// two-core machine where the proxy's request threads, its upstream and its clients share the cores, requests that
/// arrived during a commit waited a slice behind it: that alone added about 1 ms to the proxy's p99 at 4 connections.
/// A yield with nobody waiting is a cheap system call; with somebody waiting it lets them run first.
/// See <c>docs/performance.md</c>, "Sixth round".
/// </remarks>
internal sealed class CpuPacer
{
    /// <summary>How much work runs between yields by default: 250 µs, a few requests' worth.</summary>
    public static readonly TimeSpan DefaultSlice = TimeSpan.FromMicroseconds(250);

    private readonly TimeProvider _time;
    private readonly Action _yield;
    private long _sliceStart;

    /// <summary>Starts a slice now.</summary>
    /// <param name="time">The clock the slice is measured on.</param>
    /// <param name="slice">How much work runs between yields; more than zero.</param>
    /// <param name="yield">What yields; <see cref="Thread.Yield"/> when <c>null</c>.</param>
    public CpuPacer(TimeProvider time, TimeSpan slice, Action? yield = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(slice, TimeSpan.Zero);
        _time = time;
        Slice = slice;
        _yield = yield ?? YieldProcessor;
        _sliceStart = time.GetTimestamp();
    }

    /// <summary>How much work runs between yields.</summary>
    public TimeSpan Slice { get; }

    /// <summary>How many times <see cref="Tick"/> yielded.</summary>
    public int Yields { get; private set; }

    /// <summary>A pacer on the system clock with the <see cref="DefaultSlice"/>.</summary>
    public static CpuPacer StartDefault() => new(TimeProvider.System, DefaultSlice);

    /// <summary>Call between units of work: yields when the current slice is used up, then starts the next one.</summary>
    public void Tick()
    {
        if (_time.GetElapsedTime(_sliceStart) < Slice)
        {
            return;
        }

        _yield();
        Yields++;
        _sliceStart = _time.GetTimestamp();
    }

    private static void YieldProcessor() => Thread.Yield();
}
