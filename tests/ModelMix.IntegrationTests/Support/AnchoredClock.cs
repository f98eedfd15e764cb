namespace ModelMix.IntegrationTests.Support;

/// <summary>
/// A clock that runs at the real pace from a fixed instant, noon UTC: timers and timeouts are the system's (retries,
/// attempt timeouts and batch polls wait as in production), while dates are the same whenever the test runs — a test
/// reading a day or month budget window after its requests can never straddle 00:00 UTC (it would have to run 12 hours).
/// </summary>
/// <remarks>For waits asserted on the clock itself (retry-after), use <see cref="ProxyClock"/>, which stands still.</remarks>
internal sealed class AnchoredClock : TimeProvider
{
    /// <summary>2026-11-10 12:00 UTC, well inside every catalog price's period.</summary>
    public static readonly DateTimeOffset Anchor = new(2026, 11, 10, 12, 0, 0, TimeSpan.Zero);

    private readonly long _started = System.GetTimestamp();

    public override DateTimeOffset GetUtcNow() => Anchor + System.GetElapsedTime(_started);
}
