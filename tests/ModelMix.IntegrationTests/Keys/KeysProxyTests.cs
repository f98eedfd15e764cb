using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Core;
using Anthropic.Models.Messages;
using FakeAnthropic;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;
using ModelMix.Keys;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Keys;

/// <summary>
/// Virtual keys and budgets at the proxy, over real HTTP, with the key and budget stores on the ledger's file. The proxy
/// runs on a fake clock stopped 30 seconds before a day and a month end (2026-11-30 23:59:30 UTC): budget windows and
/// reset times are exact, and the same whenever the tests run.
/// </summary>
public sealed class KeysProxyTests : IAsyncLifetime
{
    private const string SmallBody = """{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""";

    // The default fixture answers 19 input and 33 output tokens; Haiku 4.5 at $1 / $5 per MTok.
    private const decimal FixtureCost = 0.000184m;

    private static readonly DateTimeOffset Now = new(2026, 11, 30, 23, 59, 30, TimeSpan.Zero);

    private readonly ProxyClock _clock = new(Now);
    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync(time: _clock);

    public async Task DisposeAsync()
    {
        _clock.Release();
        await _harness.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task Without_keys_the_proxy_serves_open_on_loopback_and_says_so()
    {
        using var client = _harness.Client();

        var message = await client.Messages.Create(Ask());

        Assert.Equal("claude-haiku-4-5-20251001", message.Model);
        Assert.Contains(_harness.Logs.Lines, line => line.Contains("No virtual API keys exist", StringComparison.Ordinal) && line.Contains("loopback", StringComparison.Ordinal));
        Assert.Null(Assert.Single(await _harness.ReadLedgerAsync()).KeyId);
    }

    [Fact]
    public async Task Once_a_key_exists_a_missing_or_invalid_key_gets_401()
    {
        var created = await CreateKeyAsync("team-a");
        using var http = _harness.Http();

        using var missing = await PostAsync(http, SmallBody);
        using var unknown = await PostAsync(http, SmallBody, apiKey: "mmx-" + new string('Q', 44));
        using var foreign = await PostAsync(http, SmallBody, apiKey: ProxyHarness.ClientKey);
        using var tampered = await PostAsync(http, SmallBody, bearer: created.Key[..^2] + "00");

        foreach (var response in new[] { missing, unknown, foreign, tampered })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var json = await ReadJsonAsync(response);
            Assert.Equal("error", json.GetProperty("type").GetString());
            Assert.Equal("authentication_error", json.GetProperty("error").GetProperty("type").GetString());
        }

        Assert.Contains("x-api-key", (await ReadJsonAsync(missing)).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(_harness.Fake.MessageRequests);
        Assert.Empty(await _harness.ReadLedgerAsync());
    }

    [Fact]
    public async Task A_valid_key_works_in_x_api_key_and_as_a_bearer_token_and_never_reaches_the_upstream()
    {
        var created = await CreateKeyAsync("team-a");
        using var sdk = new AnthropicClient(new ClientOptions { ApiKey = created.Key, BaseUrl = _harness.ProxyUrl.ToString().TrimEnd('/'), MaxRetries = 0 });
        using var http = _harness.Http();

        var message = await sdk.Messages.Create(Ask());
        using var bearer = await PostAsync(http, SmallBody, bearer: created.Key);

        Assert.Equal(33, message.Usage.OutputTokens);
        Assert.Equal(HttpStatusCode.OK, bearer.StatusCode);
        Assert.Equal(2, _harness.Fake.MessageRequests.Count);
        var secret = created.Key[(4 + ApiKeySecret.IdLength)..];
        foreach (var forwarded in _harness.Fake.MessageRequests)
        {
            Assert.Equal(ProxyHarness.UpstreamKey, forwarded.Headers["x-api-key"]);
            Assert.DoesNotContain(forwarded.Headers, header => header.Value.Contains(secret, StringComparison.Ordinal));
            Assert.Null(forwarded.Header("authorization"));
        }

        var records = await _harness.ReadLedgerAsync();
        Assert.Equal(2, records.Count);
        Assert.All(records, record => Assert.Equal(created.Info.Id, record.KeyId));
        Assert.DoesNotContain(_harness.Logs.Lines, line => line.Contains(secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_key_revoked_elsewhere_gets_401_once_the_recheck_interval_has_passed()
    {
        var created = await CreateKeyAsync("team-a");
        await CreateKeyAsync("team-b");
        using var http = _harness.Http();
        using var before = await PostAsync(http, SmallBody, apiKey: created.Key);

        await using (var keys = new SqliteKeyStore(_harness.DbPath)) // what `modelmix keys revoke` does
        {
            await keys.RevokeAsync("team-a");
        }

        // The proxy verifies keys in memory and rechecks the store's change version at most every ModelMix:Keys:RecheckInterval
        // (1 s by default): on its stopped clock the revocation is honoured by the first request after that much time.
        _clock.Advance(CachedKeyStore.DefaultRecheckInterval);
        using var after = await PostAsync(http, SmallBody, apiKey: created.Key);
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Fact]
    public async Task Over_budget_gets_429_naming_the_budget_and_when_it_resets()
    {
        var created = await CreateKeyAsync("team-a", "0.001/day");
        using var http = _harness.Http();

        // 1000 output tokens of Haiku 4.5 may cost $0.005: more than the whole daily budget.
        using var response = await PostAsync(http, SmallBody.Replace("\"max_tokens\":50", "\"max_tokens\":1000", StringComparison.Ordinal), apiKey: created.Key);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        var error = (await ReadJsonAsync(response)).GetProperty("error");
        Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains("daily budget of key 'team-a' is $0.001", message, StringComparison.Ordinal);
        Assert.Contains("$0.00 is spent", message, StringComparison.Ordinal);
        Assert.Contains("It resets at 2026-12-01T00:00:00Z.", message, StringComparison.Ordinal); // the next day, and month
        Assert.Equal("30", response.Headers.GetValues("retry-after").Single()); // 23:59:30 → 00:00:00
        Assert.Empty(_harness.Fake.MessageRequests);
    }

    [Fact]
    public async Task A_request_settles_its_budget_to_the_recorded_cost()
    {
        var created = await CreateKeyAsync("team-a", "1/day", "10/month");
        using var http = _harness.Http();

        using var response = await PostAsync(http, SmallBody, apiKey: created.Key);
        await _harness.StopProxyAsync(); // waits for the request to finish, settlement included

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var budgets = new SqliteBudgetStore(_harness.DbPath);
        foreach (var window in new[] { BudgetWindow.Day, BudgetWindow.Month })
        {
            var usage = await budgets.GetUsageAsync(created.Info.BudgetScope, window, Now);
            Assert.Equal(FixtureCost, usage.SpentUsd);
            Assert.Equal(0m, usage.ReservedUsd);
        }
    }

    [Fact]
    public async Task A_failed_request_releases_its_reservation()
    {
        var created = await CreateKeyAsync("team-a", "1/day");
        _harness.Fake.Enqueue(FakeReply.Error(400, "invalid_request_error", "bad"));
        using var http = _harness.Http();

        using var response = await PostAsync(http, SmallBody, apiKey: created.Key);
        await _harness.StopProxyAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await using var budgets = new SqliteBudgetStore(_harness.DbPath);
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 11, 30, 0, 0, 0, TimeSpan.Zero), 0m, 0m),
            await budgets.GetUsageAsync(created.Info.BudgetScope, BudgetWindow.Day, Now));
    }

    [Fact]
    public async Task Session_budget_caps_each_session_and_never_resets()
    {
        await _harness.StopProxyAsync();
        _harness.Settings["ModelMix:SessionBudgetUsd"] = "0.0006";
        await _harness.StartProxyAsync();
        using var http = _harness.Http();

        // Each request may cost $0.000272 (22 input + 50 output tokens) and costs $0.000184.
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await PostAsync(http, SmallBody, session: "abc");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                var message = (await ReadJsonAsync(response)).GetProperty("error").GetProperty("message").GetString()!;
                Assert.Contains("total budget of session 'abc' is $0.0006", message, StringComparison.Ordinal);
                Assert.Contains("does not reset", message, StringComparison.Ordinal);
                Assert.False(response.Headers.Contains("retry-after"));
            }
        }

        using var otherSession = await PostAsync(http, SmallBody, session: "def");

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(HttpStatusCode.OK, otherSession.StatusCode);
    }

    [Fact]
    public async Task Two_hundred_concurrent_requests_racing_one_small_budget_never_overspend()
    {
        const decimal Cap = 0.005m;
        var created = await CreateKeyAsync("team-a", "0.005/day");
        _harness.Fake.SetDefault(FakeReply.Message().WithDelay(TimeSpan.FromMilliseconds(20)));
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = _harness.ProxyUrl };

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(async _ =>
        {
            using var response = await PostAsync(http, SmallBody, apiKey: created.Key);
            var body = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, body);
        }));
        await _harness.StopProxyAsync(); // every request finished and settled, the ledger flushed

        var ok = responses.Count(response => response.StatusCode == HttpStatusCode.OK);
        var refused = responses.Where(response => response.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.Equal(200, ok + refused.Count);
        Assert.InRange(ok, 1, (int)(Cap / FixtureCost));
        Assert.All(refused, response => Assert.Contains("\"rate_limit_error\"", response.body, StringComparison.Ordinal));

        // Every refusal is in the ledger too (no upstream call, no cost); the upstream attempts are the answered requests.
        var all = await _harness.ReadLedgerAsync();
        var records = all.Where(record => record.ErrorType?.StartsWith("refused:", StringComparison.Ordinal) != true).ToList();
        Assert.Equal(refused.Count, all.Count(record => record.ErrorType == "refused:rate_limit_error" && record.HttpStatus == 429 && record.Cost!.Value.Total == 0m));
        Assert.Equal(ok, records.Count);
        Assert.Equal(ok, _harness.Fake.MessageCount);
        var recorded = records.Sum(record => record.Cost!.Value.Total);
        Assert.True(recorded <= Cap, $"recorded spend {recorded} exceeds the cap {Cap}");

        await using var budgets = new SqliteBudgetStore(_harness.DbPath);
        var usage = await budgets.GetUsageAsync(created.Info.BudgetScope, BudgetWindow.Day, _clock.GetUtcNow());
        Assert.Equal(recorded, usage.SpentUsd);
        Assert.True(usage.SpentUsd <= Cap);
        Assert.Equal(0m, usage.ReservedUsd);
    }

    [Fact]
    public async Task A_reservation_left_by_a_crashed_process_expires_and_is_reconciled()
    {
        var created = await CreateKeyAsync("team-a", "0.01/day");
        var limit = new BudgetLimit(created.Info.BudgetScope, "key 'team-a'", BudgetWindow.Day, 0.01m);
        await CrashWithReservationAsync(limit);

        // The live proxy reclaims the expired hold when it stands in the way, then serves.
        using var http = _harness.Http();
        using var response = await PostAsync(http, SmallBody, apiKey: created.Key);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // A proxy starting on the store reconciles at once.
        await _harness.StopProxyAsync();
        await CrashWithReservationAsync(limit);
        await _harness.StartProxyAsync();

        Assert.Contains(_harness.Logs.Lines, line => line.Contains("Reclaimed 1 budget reservation", StringComparison.Ordinal));
        await using var budgets = new SqliteBudgetStore(_harness.DbPath);
        var usage = await budgets.GetUsageAsync(created.Info.BudgetScope, BudgetWindow.Day, _clock.GetUtcNow());
        Assert.Equal(FixtureCost, usage.SpentUsd);
        Assert.Equal(0m, usage.ReservedUsd);
    }

    [Fact]
    public async Task Listening_beyond_loopback_without_keys_refuses_to_start_and_starts_with_one()
    {
        var settings = new Dictionary<string, string?>(_harness.Settings) { ["ModelMix:Db"] = Path.Combine(Path.GetDirectoryName(_harness.DbPath)!, "other.db") };

        await using (var open = ProxyApplication.Create("http://0.0.0.0:0", null, settings))
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => open.StartAsync());
            Assert.Contains("refuses to start", error.Message, StringComparison.Ordinal);
            Assert.Contains("http://0.0.0.0:0", error.Message, StringComparison.Ordinal);
            Assert.Contains("modelmix keys create", error.Message, StringComparison.Ordinal);
        }

        await using (var keys = new SqliteKeyStore(settings["ModelMix:Db"]!))
        {
            await keys.CreateAsync("ops");
        }

        await using var secured = ProxyApplication.Create("http://0.0.0.0:0", null, settings);
        await secured.StartAsync();
        await secured.StopAsync();
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080", true)]
    [InlineData("http://localhost:8080", true)]
    [InlineData("http://[::1]:8080", true)]
    [InlineData("http://0.0.0.0:8080", false)]
    [InlineData("http://*:8080", false)]
    [InlineData("http://+:8080", false)]
    [InlineData("http://[::]:8080", false)]
    [InlineData("http://proxy.internal:8080", false)]
    public void Loopback_addresses_are_recognised(string url, bool loopback)
    {
        Assert.Equal(loopback, AuthBinding.IsLoopback(url));
    }

    private async Task CrashWithReservationAsync(BudgetLimit limit)
    {
        // A "process" reserves almost the whole budget, with a reservation that expires a millisecond later, and dies
        // unsettled; then a second passes on the proxy's clock.
        await using var crashed = new SqliteBudgetStore(_harness.DbPath);
        var result = await crashed.ReserveAsync("mmx_crashed_" + Guid.NewGuid().ToString("N"), [limit], 0.0098m, _clock.GetUtcNow(), TimeSpan.FromMilliseconds(1));
        Assert.True(result.Succeeded);
        _clock.Advance(TimeSpan.FromSeconds(1));
    }

    private async Task<CreatedApiKey> CreateKeyAsync(string name, params string[] budgets)
    {
        await using var keys = new SqliteKeyStore(_harness.DbPath);
        return await keys.CreateAsync(name, budgets.Select(BudgetCap.Parse).ToList());
    }

    private static MessageCreateParams Ask() => new()
    {
        Model = "claude-haiku-4-5",
        MaxTokens = 50,
        Messages = [new UserMessageParam("hi")],
    };

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, string body, string? apiKey = null, string? bearer = null, string? session = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        if (apiKey is not null)
        {
            request.Headers.Add("x-api-key", apiKey);
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (session is not null)
        {
            request.Headers.Add("x-modelmix-session", session);
        }

        return await http.SendAsync(request);
    }

    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }
}
