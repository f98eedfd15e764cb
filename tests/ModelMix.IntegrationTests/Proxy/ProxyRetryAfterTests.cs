using System.Net;
using System.Net.Http.Headers;
using FakeAnthropic;
using ModelMix.IntegrationTests.Support;
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
public sealed class ProxyRetryAfterTests : IAsyncLifetime
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
    public async Task A_429_is_retried_after_exactly_its_retry_after(string door)
    {
        _harness.Fake.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(1)));

        var answer = PostAsync(door);
        await RetryArmedAsync(answer);

        // The wait armed is the upstream's retry-after, not the 10 ms back-off.
        Assert.Equal([TimeSpan.FromSeconds(1)], _clock.RetryWaits);
        Assert.Equal(1, _harness.Fake.MessageCount);

        // A millisecond short of it, the retry has not gone out (the timer has not fired: this is not a race).
        _clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(1, _harness.Fake.MessageCount);
        Assert.False(answer.IsCompleted);

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        using var response = await answer.WaitAsync(Patience);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, _harness.Fake.MessageCount);
        var records = (await _harness.ReadLedgerAsync()).OrderBy(record => record.Attempt).ToList();
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
        _harness.Fake.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(2))); // = MaxRetryDelay (2 s)

        var answer = PostAsync(door);
        await RetryArmedAsync(answer);

        Assert.Equal([TimeSpan.FromSeconds(2)], _clock.RetryWaits);
        _clock.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.Equal(1, _harness.Fake.MessageCount);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        using var response = await answer.WaitAsync(Patience);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, _harness.Fake.MessageCount);
    }

    [Theory]
    [MemberData(nameof(Doors))]
    public async Task A_retry_after_longer_than_MaxRetryDelay_is_relayed_at_once_not_retried(string door)
    {
        _harness.Fake.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(3))); // > MaxRetryDelay (2 s)

        var answer = PostAsync(door);
        // Whichever comes first: the answer (right), or a retry wait armed on the clock (wrong; the clock never
        // moves here, so such a retry would hold the answer for good).
        var first = await Task.WhenAny(answer, _clock.RetryArmed).WaitAsync(Patience);

        if (first != answer)
        {
            Assert.Fail($"The proxy armed a retry wait of {_clock.RetryWaits[0]} instead of relaying the 429 (MaxRetryDelay is 2 s).");
        }

        Assert.Empty(_clock.RetryWaits);
        using var response = await answer;
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(3), response.Headers.RetryAfter?.Delta); // the client learns how long to wait
        Assert.Equal(1, _harness.Fake.MessageCount);
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal(429, record.HttpStatus);
        Assert.Equal("rate_limit_error", record.ErrorType);
    }

    /// <summary>Waits for the proxy to arm a retry wait, failing at once if the answer comes back instead.</summary>
    private async Task RetryArmedAsync(Task<HttpResponseMessage> answer)
    {
        var first = await Task.WhenAny(answer, _clock.RetryArmed).WaitAsync(Patience);
        if (first == answer)
        {
            using var response = await answer;
            Assert.Fail($"The proxy answered HTTP {(int)response.StatusCode} instead of waiting to retry ({_harness.Fake.MessageCount} upstream call(s)).");
        }
    }

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
