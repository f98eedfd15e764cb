using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
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
public sealed class ProxyRetryAfterDateTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30); // a bound on real waits for conditions, never a measurement

    private readonly ProxyClock _clock = new();
    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync(time: _clock);

    public async Task DisposeAsync()
    {
        _clock.Release(); // a failed test may leave a request waiting on the clock
        await _harness.DisposeAsync();
    }

    public static TheoryData<string> Doors => ["messages", "chat"];

    [Theory]
    [MemberData(nameof(Doors))]
    public async Task A_429_with_an_HTTP_date_is_retried_when_the_proxy_clock_reaches_that_date(string door)
    {
        // retry-after: Tue, 10 Nov 2026 12:00:02 GMT = the proxy's now (12:00:00) + 2 s, within MaxRetryDelay (2 s).
        _harness.Fake.Enqueue(RateLimitedUntil(ProxyClock.Epoch.AddSeconds(2)));

        var answer = PostAsync(door);
        var first = await Task.WhenAny(answer, _clock.RetryArmed).WaitAsync(Patience);
        if (first == answer)
        {
            using var early = await answer;
            Assert.Fail($"The proxy answered HTTP {(int)early.StatusCode} instead of waiting until the retry-after date ({_harness.Fake.MessageCount} upstream call(s)).");
        }

        Assert.Equal([TimeSpan.FromSeconds(2)], _clock.RetryWaits);
        _clock.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.Equal(1, _harness.Fake.MessageCount);
        Assert.False(answer.IsCompleted);

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        using var response = await answer.WaitAsync(Patience);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, _harness.Fake.MessageCount);
    }

    [Theory]
    [MemberData(nameof(Doors))]
    public async Task A_429_with_an_HTTP_date_further_than_MaxRetryDelay_is_relayed_at_once(string door)
    {
        // 12:00:03 = now + 3 s > MaxRetryDelay (2 s): the client gets the 429 and the date, nothing is retried.
        var until = ProxyClock.Epoch.AddSeconds(3);
        _harness.Fake.Enqueue(RateLimitedUntil(until));

        var answer = PostAsync(door);
        var first = await Task.WhenAny(answer, _clock.RetryArmed).WaitAsync(Patience);
        if (first != answer)
        {
            Assert.Fail($"The proxy armed a retry wait of {_clock.RetryWaits[0]} instead of relaying the 429 (the date is 3 s away, MaxRetryDelay is 2 s).");
        }

        Assert.Empty(_clock.RetryWaits);
        using var response = await answer;
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(until, response.Headers.RetryAfter?.Date);
        Assert.Equal(1, _harness.Fake.MessageCount);
    }

    [Theory]
    [MemberData(nameof(Doors))]
    public async Task A_429_with_an_HTTP_date_already_past_on_the_proxy_clock_is_retried_without_a_wait(string door)
    {
        // 11:59:59 = a second before the proxy's now: no wait (Polly arms no timer for a zero delay), one retry.
        _harness.Fake.Enqueue(RateLimitedUntil(ProxyClock.Epoch.AddSeconds(-1)));

        using var response = await PostAsync(door).WaitAsync(Patience);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, _harness.Fake.MessageCount);
        Assert.Empty(_clock.RetryWaits);
    }

    /// <summary>A 429 whose <c>retry-after</c> is <paramref name="until"/> as an HTTP date (IMF-fixdate, "r").</summary>
    private static FakeReply RateLimitedUntil(DateTimeOffset until) =>
        FakeReply.Error(429, "rate_limit_error", "rate limited").WithHeader("retry-after", until.ToString("r", CultureInfo.InvariantCulture));

    /// <summary>One small request through <paramref name="door"/>, not awaited (the test moves the clock meanwhile).</summary>
    private Task<HttpResponseMessage> PostAsync(string door)
    {
        var http = _harness.Http();
        var request = door switch
        {
            "messages" => new HttpRequestMessage(HttpMethod.Post, "v1/messages")
            {
                Content = ProxyValidationTests.Json("""{"model":"claude-haiku-4-5","max_tokens":256,"messages":[{"role":"user","content":"hi"}]}"""),
            },
            "chat" => new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
            {
                Content = ProxyValidationTests.Json("""{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}]}"""),
                Headers = { Authorization = new AuthenticationHeaderValue("Bearer", ProxyHarness.ClientKey) },
            },
            _ => throw new ArgumentOutOfRangeException(nameof(door), door, null),
        };
        return SendAsync(http, request);

        static async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpRequestMessage request)
        {
            using (http)
            using (request)
            {
                var response = await http.SendAsync(request);
                await response.Content.LoadIntoBufferAsync();
                return response;
            }
        }
    }
}
