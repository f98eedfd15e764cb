using System.Net;
using System.Net.Sockets;
using System.Text;
using FakeAnthropic;
using Microsoft.Data.Sqlite;
using ModelMix.IntegrationTests.Cascade;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Keys;
using ModelMix.Budgets;

namespace ModelMix.IntegrationTests.Security;

/// <summary>
/// The proxy's security properties over real HTTP: no key (upstream or virtual, valid or wrong) in logs, ledger file,
/// metrics, HTML or any response; no request can point the proxy at another host; no prompt or answer text stored.
/// </summary>
public sealed class SecurityTests : IAsyncLifetime
{
    private const string Body = """{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""";

    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync();

    public async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task No_key_appears_in_logs_ledger_metrics_html_or_responses_after_mixed_traffic()
    {
        CreatedApiKey open, capped, revoked, admin;
        await using (var keys = new SqliteKeyStore(_harness.DbPath))
        {
            admin = await keys.CreateAsync("ops", [], isAdmin: true); // /metrics and /dashboard need an admin key
            open = await keys.CreateAsync("open", []);
            capped = await keys.CreateAsync("capped", [BudgetCap.Parse("0.0003/day")]);
            revoked = await keys.CreateAsync("revoked", []);
            await keys.RevokeAsync(revoked.Info.Id);
        }

        var wrongKeys = new[]
        {
            open.Key[..^4] + "ZZZZ",                                     // a tampered secret
            "mmx-" + new string('A', 12) + new string('b', 32),          // a well-formed key that does not exist
            ProxyHarness.UpstreamKey,                                    // the upstream key offered as a client key
            "sk-ant-api03-" + new string('x', 40),                       // an Anthropic-looking key
        };
        var secrets = new[] { ProxyHarness.UpstreamKey, admin.Key, open.Key, capped.Key, revoked.Key }.Concat(wrongKeys).ToList();
        // The secret part alone must not leak either (the public id may: it names the key in the ledger).
        secrets.AddRange(new[] { admin, open, capped, revoked }.Select(key => key.Key[(4 + ApiKeySecret.IdLength)..]));

        var seen = new StringBuilder();
        using var http = _harness.Http();

        async Task SendAsync(string path, string? body, params (string Name, string Value)[] headers)
        {
            using var request = new HttpRequestMessage(body is null ? HttpMethod.Get : HttpMethod.Post, path);
            if (body is not null)
            {
                request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            }

            request.Headers.Add("anthropic-version", "2023-06-01");
            foreach (var (name, value) in headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            seen.AppendLine(response.ToString()).AppendLine(text);
            // The upstream's own 500 is relayed as it came; the proxy itself never fails.
            Assert.DoesNotContain("ModelMix hit an internal error", text, StringComparison.Ordinal);
            // No stack trace or exception text (the runtime's own metrics on /metrics name exception types as labels,
            // e.g. dotnet_exceptions_total{error_type="SocketException"}, which is fine).
            if (path != "metrics")
            {
                Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
            }

            Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        }

        // Good traffic on every endpoint, streaming too, with the key in both headers.
        await SendAsync("v1/messages", Body, ("x-api-key", open.Key));
        await SendAsync("v1/messages", Body.Replace("\"max_tokens\":50", "\"max_tokens\":50,\"stream\":true", StringComparison.Ordinal), ("authorization", "Bearer " + open.Key));
        await SendAsync("v1/chat/completions", """{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}]}""", ("authorization", "Bearer " + open.Key));
        await SendAsync("v1/messages/count_tokens", """{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}]}""", ("x-api-key", open.Key));
        await SendAsync("v1/models", null, ("x-api-key", open.Key));

        // Auth failures: missing, wrong, revoked, both headers at once, on both dialects.
        await SendAsync("v1/messages", Body);
        foreach (var wrong in wrongKeys.Append(revoked.Key))
        {
            await SendAsync("v1/messages", Body, ("x-api-key", wrong));
            await SendAsync("v1/chat/completions", """{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}]}""", ("authorization", "Bearer " + wrong));
            await SendAsync("v1/messages", Body, ("x-api-key", open.Key), ("authorization", "Bearer " + wrong));
        }

        // Errors: upstream failures after retries, a budget refusal, malformed bodies, an unknown model.
        _harness.Fake.Enqueue(FakeReply.ServerError());
        _harness.Fake.Enqueue(FakeReply.ServerError());
        _harness.Fake.Enqueue(FakeReply.ServerError());
        await SendAsync("v1/messages", Body, ("x-api-key", open.Key));
        _harness.Fake.Enqueue(FakeReply.Error(401, "authentication_error", "invalid x-api-key"));
        await SendAsync("v1/messages", Body, ("x-api-key", open.Key));
        for (var i = 0; i < 3; i++)
        {
            await SendAsync("v1/messages", Body, ("x-api-key", capped.Key));
        }

        await SendAsync("v1/messages", "{\"model\":", ("x-api-key", open.Key));
        await SendAsync("v1/messages", Body.Replace("claude-haiku-4-5", "no-such-model", StringComparison.Ordinal), ("x-api-key", open.Key));

        // Metrics and every HTML page the proxy has (a dashboard, if one is mapped, and the root).
        foreach (var page in new[] { "metrics", "", "dashboard", "dashboard/" })
        {
            await SendAsync(page, null, ("x-api-key", admin.Key));
            await SendAsync(page, null, ("x-api-key", open.Key));
            await SendAsync(page, null);
        }

        Assert.Contains("modelmix_attempts_total", seen.ToString(), StringComparison.Ordinal); // the metrics were scraped, not refused

        await _harness.StopProxyAsync(); // flushes the ledger and the logs
        var logs = string.Join('\n', _harness.Logs.Lines);
        Assert.Contains("authentication", logs, StringComparison.OrdinalIgnoreCase); // the failures were logged at all
        var stored = string.Concat(Directory.GetFiles(Path.GetDirectoryName(_harness.DbPath)!)
            .Select(file => Encoding.Latin1.GetString(File.ReadAllBytes(file))));
        Assert.True(stored.Length > 0);

        foreach (var secret in secrets)
        {
            Assert.False(logs.Contains(secret, StringComparison.Ordinal), $"a key is in the logs: {secret[..8]}…");
            Assert.False(stored.Contains(secret, StringComparison.Ordinal), $"a key is in the ledger/key store files: {secret[..8]}…");
            Assert.False(seen.ToString().Contains(secret, StringComparison.Ordinal), $"a key is in a response: {secret[..8]}…");
        }

        // The upstream only ever saw the upstream key.
        Assert.All(_harness.Fake.Requests, request => Assert.Equal(ProxyHarness.UpstreamKey, request.Headers["x-api-key"]));
    }

    [Fact]
    public async Task No_request_can_point_the_proxy_at_another_host()
    {
        using var trap = new ConnectionTrap();
        var evil = $"http://127.0.0.1:{trap.Port}";
        var evilHost = $"127.0.0.1:{trap.Port}";
        using var http = _harness.Http();

        var sent = 0;
        async Task<HttpStatusCode> SendAsync(string body, params (string Name, string Value)[] headers)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add("anthropic-version", "2023-06-01");
            foreach (var (name, value) in headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            using var response = await http.SendAsync(request);
            sent++;
            Assert.NotEqual(HttpStatusCode.InternalServerError, response.StatusCode);
            return response.StatusCode;
        }

        // Headers that other gateways (or careless proxies) honour as an upstream override.
        foreach (var name in new[] { "host", "x-forwarded-host", "forwarded", "x-portkey-custom-host", "x-portkey-provider", "x-base-url", "base-url", "x-upstream", "x-modelmix-upstream", "x-original-url", "x-rewrite-url", "x-forwarded-for", "anthropic-base-url", "x-anthropic-base-url" })
        {
            var value = name switch { "host" or "x-forwarded-host" => evilHost, "forwarded" => $"host={evilHost};proto=http", _ => evil };
            Assert.Equal(HttpStatusCode.OK, await SendAsync(Body, (name, value)));
        }

        Assert.Equal(HttpStatusCode.OK, await SendAsync(Body, ("anthropic-beta", $"base-url={evil}")));

        // Body fields: a URL as the model, URL-ish extra fields.
        Assert.Equal(HttpStatusCode.BadRequest, await SendAsync(Body.Replace("claude-haiku-4-5", $"{evil}/v1/messages", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.BadRequest, await SendAsync(Body.Replace("claude-haiku-4-5", $"claude-haiku-4-5@{evilHost}", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(Body.Replace("{\"model\"", $"{{\"base_url\":\"{evil}\",\"api_base\":\"{evil}\",\"model\"", StringComparison.Ordinal)));

        // An absolute URL in the request line (what a client talking to a forward proxy sends), over a raw socket.
        var absolute = await RawRequestAsync(_harness.ProxyUrl, $"POST {evil}/v1/messages HTTP/1.1\r\nHost: {evilHost}\r\nanthropic-version: 2023-06-01\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(Body)}\r\nConnection: close\r\n\r\n{Body}");
        Assert.DoesNotContain(" 500 ", absolute.Split('\n')[0], StringComparison.Ordinal);

        Assert.Equal(0, trap.Connections);
        // Everything that went upstream went to the configured FakeAnthropic, to its one Messages path.
        var upstream = _harness.Fake.Requests;
        Assert.InRange(upstream.Count, sent - 2, sent + 1); // the two unknown-model requests never leave the proxy
        Assert.All(upstream, request => Assert.Equal("/v1/messages", request.Path));
        Assert.All(upstream, request => Assert.Equal(_harness.Fake.BaseUrl.Authority, request.Headers["host"]));
    }

    [Fact]
    public async Task An_upstream_redirect_is_relayed_not_followed_so_the_upstream_key_never_leaves_for_another_host()
    {
        using var trap = new ConnectionTrap();
        _harness.Fake.Enqueue(FakeReply.Redirect($"http://127.0.0.1:{trap.Port}/v1/messages"));
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = _harness.ProxyUrl };
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.TemporaryRedirect, response.StatusCode);
        Assert.Equal(0, trap.Connections); // followed, the redirect would have carried x-api-key to it
        Assert.Single(_harness.Fake.Requests);
    }

    [Fact]
    public async Task Prompt_and_answer_text_are_never_stored()
    {
        var promptMarker = "PROMPT-" + Guid.NewGuid().ToString("N");
        var answerMarker = "ANSWER-" + Guid.NewGuid().ToString("N");
        using var replies = new TextReplies();
        _harness.Fake.Enqueue(replies.Message(answerMarker));
        _harness.Fake.Enqueue(replies.Message(answerMarker));
        using var http = _harness.Http();
        var body = Body.Replace("\"hi\"", $"\"{promptMarker}\"", StringComparison.Ordinal);

        foreach (var path in new[] { "v1/messages", "v1/chat/completions" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add("anthropic-version", "2023-06-01");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains(answerMarker, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal); // the marker did pass through
        }

        Assert.Contains(_harness.Fake.MessageRequests, request => request.Body.Contains(promptMarker, StringComparison.Ordinal));
        await _harness.StopProxyAsync();
        Assert.Equal(2, (await _harness.ReadLedgerAsync()).Count);
        var files = Directory.GetFiles(Path.GetDirectoryName(_harness.DbPath)!);
        Assert.Contains(files, file => file.EndsWith(".db", StringComparison.Ordinal));
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(file);
            foreach (var marker in new[] { promptMarker, answerMarker })
            {
                Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(marker)));
                Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.Unicode.GetBytes(marker)));
            }
        }

        var logs = string.Join('\n', _harness.Logs.Lines);
        Assert.DoesNotContain(promptMarker, logs, StringComparison.Ordinal);
        Assert.DoesNotContain(answerMarker, logs, StringComparison.Ordinal);
    }

    private static async Task<string> RawRequestAsync(Uri proxy, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(proxy.Host, proxy.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await reader.ReadToEndAsync(timeout.Token);
    }

    /// <summary>A loopback listener that must never be contacted: it counts every connection it accepts.</summary>
    private sealed class ConnectionTrap : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private int _connections;

        public ConnectionTrap()
        {
            _listener.Start();
            _ = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Connections => Volatile.Read(ref _connections);

        public void Dispose() => _listener.Stop();

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    using var socket = await _listener.AcceptSocketAsync();
                    Interlocked.Increment(ref _connections);
                }
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
