using System.Globalization;
using System.Net;
using FakeAnthropic;
using ModelMix.IntegrationTests.Support;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// The proxy's retry after a 429 whose <c>retry-after</c> is an HTTP date (RFC 9110 §10.2.3 allows a date or a number
/// of seconds), on both doors: the wait is that date less the proxy's own clock (its <see cref="TimeProvider"/>), as
/// the library's <c>FallbackRetryAfterHandler</c> measures it. The clock is a <see cref="ProxyClock"/> fixed at
/// 2026-11-10 12:00:00 UTC, so a date read against the machine's clock instead would be weeks off (in the past here:
/// no wait) and these tests fail.
/// </summary>
public sealed class ProxyRetryAfterDateTests : ProxyRetryAfterTestBase
{
    [Theory]
    [MemberData(nameof(Doors))]
    public async Task A_429_with_an_HTTP_date_is_retried_when_the_proxy_clock_reaches_that_date(string door)
    {
        // retry-after: Tue, 10 Nov 2026 12:00:02 GMT = the proxy's now (12:00:00) + 2 s, within MaxRetryDelay (2 s).
        Harness.Fake.Enqueue(RateLimitedUntil(ProxyClock.Epoch.AddSeconds(2)));

        var answer = PostAsync(door);
        await RetryArmedAsync(answer, "until the retry-after date");

        Assert.Equal([TimeSpan.FromSeconds(2)], Clock.RetryWaits);
        Clock.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.Equal(1, Harness.Fake.MessageCount);
        Assert.False(answer.IsCompleted);

        Clock.Advance(TimeSpan.FromMilliseconds(1));
        using var response = await answer.WaitAsync(Patience);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, Harness.Fake.MessageCount);
    }

    [Theory]
    [MemberData(nameof(Doors))]
    public async Task A_429_with_an_HTTP_date_further_than_MaxRetryDelay_is_relayed_at_once(string door)
    {
        // 12:00:03 = now + 3 s > MaxRetryDelay (2 s): the client gets the 429 and the date, nothing is retried.
        var until = ProxyClock.Epoch.AddSeconds(3);
        Harness.Fake.Enqueue(RateLimitedUntil(until));

        var answer = PostAsync(door);
        await RelayedAtOnceAsync(answer, "the date is 3 s away, MaxRetryDelay is 2 s");

        Assert.Empty(Clock.RetryWaits);
        using var response = await answer;
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(until, response.Headers.RetryAfter?.Date);
        Assert.Equal(1, Harness.Fake.MessageCount);
    }

    [Theory]
    [MemberData(nameof(Doors))]
    public async Task A_429_with_an_HTTP_date_already_past_on_the_proxy_clock_is_retried_without_a_wait(string door)
    {
        // 11:59:59 = a second before the proxy's now: no wait (Polly arms no timer for a zero delay), one retry.
        Harness.Fake.Enqueue(RateLimitedUntil(ProxyClock.Epoch.AddSeconds(-1)));

        using var response = await PostAsync(door).WaitAsync(Patience);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, Harness.Fake.MessageCount);
        Assert.Empty(Clock.RetryWaits);
    }

    /// <summary>A 429 whose <c>retry-after</c> is <paramref name="until"/> as an HTTP date (IMF-fixdate, "r").</summary>
    private static FakeReply RateLimitedUntil(DateTimeOffset until) =>
        FakeReply.Error(429, "rate_limit_error", "rate limited").WithHeader("retry-after", until.ToString("r", CultureInfo.InvariantCulture));
}
