using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Keys;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// Every error the proxy answers itself is visible: logged (one line per kind per 10 s, with how many were folded in),
/// counted on /metrics by status and type, and — with a key or session — recorded in the ledger with no cost.
/// </summary>
public sealed class RefusalVisibilityTests : IAsyncLifetime
{
    private ProxyHarness _harness = null!;

    // A fake clock: the log's 10 s window moves only when a test moves it, so on a loaded host refusals seconds apart are
    // still one window (on the wall clock a pause over 10 s between two of them logged a second line).
    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync(time: new Support.ProxyClock());

    public async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task A_refused_request_is_logged_counted_and_recorded_with_its_key()
    {
        string key, admin;
        await using (var keys = new SqliteKeyStore(_harness.DbPath))
        {
            key = (await keys.CreateAsync("team-a", [BudgetCap.Parse("5/day")])).Key;
            admin = (await keys.CreateAsync("ops", isAdmin: true)).Key; // /metrics needs an admin key once keys exist
        }

        using var http = _harness.Http();
        for (var i = 0; i < 3; i++)
        {
            using var refused = await PostAsync(http, """{"model":"claude-haiku-5-5","messages":[]}""", key, session: "s-9");
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        using var unauthenticated = await PostAsync(http, """{"model":"claude-haiku-5-5","max_tokens":5,"messages":[]}""", apiKey: null);
        Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);

        // Ledger: the three refusals with the key and session, no cost, no upstream call; the anonymous 401 has no row.
        Assert.Equal(0, _harness.Fake.MessageCount);
        var records = await _harness.ReadLedgerAsync();
        Assert.Equal(3, records.Count);
        Assert.All(records, record =>
        {
            Assert.Equal("refused:invalid_request_error", record.ErrorType);
            Assert.Equal(400, record.HttpStatus);
            Assert.Equal("s-9", record.SessionId);
            Assert.NotNull(record.KeyId);
            Assert.Equal(0m, record.Cost!.Value.Total);
            Assert.Contains("max_tokens", record.Reason, StringComparison.Ordinal);
        });

        // Log: one line for the three 400s (the next two folded into the window), one for the 401; never the key.
        Assert.Single(_harness.Logs.Lines, line => line.Contains("Refused POST /v1/messages with 400 invalid_request_error", StringComparison.Ordinal));
        Assert.Single(_harness.Logs.Lines, line => line.Contains("with 401 authentication_error", StringComparison.Ordinal));
        Assert.DoesNotContain(_harness.Logs.Lines, line => line.Contains(key, StringComparison.Ordinal));

        using var scrape = new HttpRequestMessage(HttpMethod.Get, "metrics");
        scrape.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin);
        var metrics = await (await http.SendAsync(scrape)).Content.ReadAsStringAsync();
        Assert.Contains("status=\"400\",type=\"invalid_request_error\"} 3", metrics, StringComparison.Ordinal);
        Assert.Contains("status=\"401\",type=\"authentication_error\"} 1", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("reason=\"refused\"", metrics, StringComparison.Ordinal); // a refusal is not a route
    }

    /// <summary>
    /// CI once missed the 400 series in the test above: its /metrics heard every proxy of the test process (a
    /// MeterListener hears each meter named ModelMix), so parallel tests' refusals were added to its counts, and a proxy
    /// that stopped ended the shared series (its instruments completed). /metrics is its own proxy's, whatever else runs.
    /// </summary>
    [Fact]
    public async Task Another_proxy_in_the_process_neither_adds_to_these_metrics_nor_ends_their_series_when_it_stops()
    {
        using var http = _harness.Http();
        await RefuseAsync(http); // this proxy: 1

        await using (var other = await ProxyHarness.StartAsync())
        {
            using var otherHttp = other.Http();
            await RefuseAsync(otherHttp);
            await RefuseAsync(otherHttp); // the other proxy: 2, none of this one's
        }

        // The other proxy stopped (its meters are disposed). The first scrape: this proxy's 1 + 1 = 2, in one series.
        await RefuseAsync(http);
        Assert.Equal(["2"], InvalidRequestCounts(await http.GetStringAsync("metrics")));

        // And the series lives on past that scrape: the next refusal is counted (polled: /metrics caches a scrape 300 ms).
        await RefuseAsync(http);
        await Support.CrashTest.WaitUntilAsync(async () => InvalidRequestCounts(await http.GetStringAsync("metrics")) is ["3"], "the third refusal on /metrics", seconds: 10);
    }

    [Theory]
    [InlineData("claude-fütüre")]
    [InlineData("😀 emoji")]
    [InlineData("claude-haiku@evil.example")]
    [InlineData("https://evil.example/v1/messages")]
    public async Task A_name_that_is_not_shaped_like_a_model_id_is_refused_not_forwarded(string model)
    {
        using var http = _harness.Http();

        using var response = await PostAsync(http, $$"""{"model":"{{model}}","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""", apiKey: null);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("shaped like a model id", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, _harness.Fake.MessageCount);
    }

    [Fact]
    public async Task A_huge_model_name_is_refused_with_a_clipped_echo()
    {
        using var http = _harness.Http();
        var model = new string('a', 200_000);

        using var response = await PostAsync(http, $$"""{"model":"{{model}}","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""", apiKey: null);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Content.ReadAsStringAsync()).Length < 1_000);
        Assert.Equal(0, _harness.Fake.MessageCount);
    }

    /// <summary>One 400 invalid_request_error (no max_tokens), anonymous: counted, logged, not recorded.</summary>
    private static async Task RefuseAsync(HttpClient http)
    {
        using var refused = await PostAsync(http, """{"model":"claude-haiku-5-5","messages":[]}""", apiKey: null);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
    }

    /// <summary>The values of every <c>modelmix_refusals_total</c> series for 400 invalid_request_error in a scrape.</summary>
    private static string[] InvalidRequestCounts(string metrics) =>
        [.. Regex.Matches(metrics, "^modelmix_refusals_total\\{[^}]*status=\"400\",type=\"invalid_request_error\"\\} (\\d+)", RegexOptions.Multiline).Select(match => match.Groups[1].Value)];

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, string body, string? apiKey, string? session = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        if (apiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        if (session is not null)
        {
            request.Headers.Add("x-modelmix-session", session);
        }

        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }
}
