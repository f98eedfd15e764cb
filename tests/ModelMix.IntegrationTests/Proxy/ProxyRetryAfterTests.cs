using System.Net;
using FakeAnthropic;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// The proxy's retry after a 429 with <c>retry-after</c>, on both doors (<c>/v1/messages</c> and
/// <c>/v1/chat/completions</c>), on a fake clock: the wait is read from the timer the retry arms, and the retry is seen
/// not to go out a millisecond before the wait is over. Nothing here sleeps or times anything.
/// </summary>
/// <remarks>
/// The harness sets <c>ModelMix:MaxRetryDelay</c> to 2 s and <c>ModelMix:RetryBaseDelay</c> to 10 ms: a retry that ignored
/// <c>retry-after</c> would arm a jittered back-off of tens of milliseconds instead. FakeAnthropic sends
/// <c>retry-after</c> in whole seconds.
/// </remarks>
public sealed class ProxyRetryAfterTests : ProxyRetryAfterTestBase
{
    [Theory]
    [MemberData(nameof(Doors))]
    public async Task A_429_is_retried_after_exactly_its_retry_after(string door)
    {
        Harness.Fake.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(1)));

        var answer = PostAsync(door);
        await RetryArmedAsync(answer, "to retry");

        // The wait armed is the upstream's retry-after, not the 10 ms back-off.
        Assert.Equal([TimeSpan.FromSeconds(1)], Clock.RetryWaits);
        Assert.Equal(1, Harness.Fake.MessageCount);

        // A millisecond short of it, the retry has not gone out (the timer has not fired: this is not a race).
        Clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(1, Harness.Fake.MessageCount);
        Assert.False(answer.IsCompleted);

        Clock.Advance(TimeSpan.FromMilliseconds(1));
        using var response = await answer.WaitAsync(Patience);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, Harness.Fake.MessageCount);
        var records = (await Harness.ReadLedgerAsync()).OrderBy(record => record.Attempt).ToList();
        Assert.Equal([1, 2], records.Select(record => record.Attempt));
        Assert.Equal(429, records[0].HttpStatus);
        Assert.Equal("rate_limit_error", records[0].ErrorType);
        Assert.Equal(LedgerStatus.Ok, records[1].Status);
        // Each attempt is stamped on the proxy's clock when it starts: the second exactly the retry-after later.
        Assert.Equal(TimeSpan.FromSeconds(1), records[1].Timestamp - records[0].Timestamp);
    }

    [Theory]
    [MemberData(nameof(Doors))]
    public async Task A_retry_after_equal_to_MaxRetryDelay_is_still_waited_out(string door)
    {
        Harness.Fake.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(2))); // = MaxRetryDelay (2 s)

        var answer = PostAsync(door);
        await RetryArmedAsync(answer, "to retry");

        Assert.Equal([TimeSpan.FromSeconds(2)], Clock.RetryWaits);
        Clock.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.Equal(1, Harness.Fake.MessageCount);
        Clock.Advance(TimeSpan.FromMilliseconds(1));
        using var response = await answer.WaitAsync(Patience);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, Harness.Fake.MessageCount);
    }

    [Theory]
    [MemberData(nameof(Doors))]
    public async Task A_retry_after_longer_than_MaxRetryDelay_is_relayed_at_once_not_retried(string door)
    {
        Harness.Fake.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(3))); // > MaxRetryDelay (2 s)

        var answer = PostAsync(door);
        await RelayedAtOnceAsync(answer, "MaxRetryDelay is 2 s");

        Assert.Empty(Clock.RetryWaits);
        using var response = await answer;
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(3), response.Headers.RetryAfter?.Delta); // the client learns how long to wait
        Assert.Equal(1, Harness.Fake.MessageCount);
        var record = Assert.Single(await Harness.ReadLedgerAsync());
        Assert.Equal(429, record.HttpStatus);
        Assert.Equal("rate_limit_error", record.ErrorType);
    }
}
