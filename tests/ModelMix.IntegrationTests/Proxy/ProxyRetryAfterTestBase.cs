using System.Net.Http.Headers;
using ModelMix.IntegrationTests.Support;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// The set-up <see cref="ProxyRetryAfterTests"/> and <see cref="ProxyRetryAfterDateTests"/> share: a proxy (the
/// default harness: <c>ModelMix:MaxRetryDelay</c> 2 s, <c>ModelMix:RetryBaseDelay</c> 10 ms) on a
/// <see cref="ProxyClock"/> that stands still until the test moves it, both doors, one small request through either,
/// and the two ways a 429 can go (a retry wait armed, or the 429 relayed at once).
/// </summary>
public abstract class ProxyRetryAfterTestBase : IAsyncLifetime
{
    /// <summary>A bound on real waits for conditions, never a measurement.</summary>
    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>The proxy's clock.</summary>
    private protected ProxyClock Clock { get; } = new();

    /// <summary>The proxy and its fake upstream.</summary>
    private protected ProxyHarness Harness { get; private set; } = null!;

    /// <summary>The two doors: <c>/v1/messages</c> and <c>/v1/chat/completions</c>.</summary>
    public static TheoryData<string> Doors => ["messages", "chat"];

    /// <inheritdoc />
    public async Task InitializeAsync() => Harness = await ProxyHarness.StartAsync(time: Clock);

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        Clock.Release(); // a failed test may leave a request waiting on the clock
        await Harness.DisposeAsync();
    }

    /// <summary>Waits for the proxy to arm a retry wait, failing at once (saying what it waited for) if the answer comes back instead.</summary>
    protected async Task RetryArmedAsync(Task<HttpResponseMessage> answer, string waitingFor)
    {
        var first = await Task.WhenAny(answer, Clock.RetryArmed).WaitAsync(Patience);
        if (first == answer)
        {
            using var response = await answer;
            Assert.Fail($"The proxy answered HTTP {(int)response.StatusCode} instead of waiting {waitingFor} ({Harness.Fake.MessageCount} upstream call(s)).");
        }
    }

    /// <summary>
    /// Waits for the answer, failing at once (saying why it should not retry) if the proxy arms a retry wait instead:
    /// the clock never moves here, so such a retry would hold the answer for good.
    /// </summary>
    protected async Task RelayedAtOnceAsync(Task<HttpResponseMessage> answer, string why)
    {
        var first = await Task.WhenAny(answer, Clock.RetryArmed).WaitAsync(Patience);
        if (first != answer)
        {
            Assert.Fail($"The proxy armed a retry wait of {Clock.RetryWaits[0]} instead of relaying the 429 ({why}).");
        }
    }

    /// <summary>One small request through <paramref name="door"/>, not awaited (the test moves the clock meanwhile).</summary>
    protected Task<HttpResponseMessage> PostAsync(string door)
    {
        var http = Harness.Http();
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
