using System.Net;
using System.Text;
using System.Text.Json;
using FakeAnthropic;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.OpenAi;
using ModelMix.IntegrationTests.Support;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// Server-tool fees through the proxy (issue 20 §4, §5): the upstream reports <c>usage.server_tool_use</c> (FakeAnthropic),
/// the proxy reads it from JSON answers and from the stream's <c>message_delta</c> on both doors, the ledger keeps the
/// counts and prices them ($10 per 1,000 web searches), and a budget hold covers the searches a request declares.
/// </summary>
public sealed class ServerToolPricingTests : IAsyncLifetime
{
    private const string SearchTool = """{"type":"web_search_20260209","name":"web_search","max_uses":5}""";

    private ProxyHarness _harness = null!;

    // On a clock anchored at noon: a day budget read after a request is the day it was charged to.
    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync(time: new AnchoredClock());

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private static string Body(bool stream = false, string? tools = SearchTool, int maxTokens = 512) =>
        $$"""{"model":"claude-haiku-4-5","max_tokens":{{maxTokens}},{{(stream ? "\"stream\":true," : "")}}{{(tools is null ? "" : $"\"tools\":[{tools}],")}}"messages":[{"role":"user","content":"What changed in the news today?"}]}""";

    [Fact]
    public async Task A_thousand_searches_are_recorded_and_priced_at_ten_dollars_not_as_free()
    {
        _harness.Fake.Enqueue(FakeReply.Message().WithUsage(input: 1000, output: 500, webSearchRequests: 1000));
        using var http = _harness.Http();

        using var response = await PostAsync(http, Body());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal((1000L, 0L), (record.Usage.WebSearchRequests, record.Usage.WebFetchRequests));
        // Haiku 4.5 at $1 / $5 per MTok: 1000*1 + 500*5 = 3500 /1e6 = 0.0035; 1000 searches * $0.01 = 10; total 10.0035
        // (it was recorded as 0.0035 before server tools were priced).
        Assert.Equal(10m, record.Cost!.Value.ServerTools);
        Assert.Equal(10.0035m, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task A_stream_reports_its_searches_in_message_delta_and_they_are_priced()
    {
        _harness.Fake.Enqueue(FakeReply.Stream().WithUsage(input: 40, output: 300, webSearchRequests: 3, webFetchRequests: 2));
        using var http = _harness.Http();

        using var response = await PostAsync(http, Body(stream: true));
        var events = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"server_tool_use\":{\"web_search_requests\":3,\"web_fetch_requests\":2}", events, StringComparison.Ordinal); // relayed as sent
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.True(record.Streaming);
        Assert.Equal((3L, 2L), (record.Usage.WebSearchRequests, record.Usage.WebFetchRequests));
        // 40*1 + 300*5 = 1540 /1e6 = 0.00154; 3 searches * 0.01 = 0.03; 2 fetches * 0 = 0; total 0.03154.
        Assert.Equal(0.03154m, record.Cost!.Value.Total);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_openai_door_prices_server_tool_use_the_same(bool stream)
    {
        _harness.Fake.Enqueue((stream ? FakeReply.Stream() : FakeReply.Message()).WithUsage(input: 100, output: 20, webSearchRequests: 4));

        using var response = await ChatWire.PostAsync(_harness, $$"""{"model":"claude-haiku-4-5","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}""");
        await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal(4L, record.Usage.WebSearchRequests);
        // 100*1 + 20*5 = 200 /1e6 = 0.0002; 4 searches * 0.01 = 0.04; total 0.0402.
        Assert.Equal(0.0402m, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task A_budget_hold_covers_the_searches_a_request_declares()
    {
        var created = await CreateKeyAsync("team-a", "0.05/day");
        using var http = _harness.Http();

        // Without server tools the worst case is a few hundred tokens of input plus 512 of output at $1 / $5 per MTok
        // (about $0.003): it fits the $0.05 cap and is served.
        _harness.Fake.Enqueue(FakeReply.Message());
        using (var plain = await PostAsync(http, Body(tools: null), created.Key))
        {
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        }

        // The same request declaring web search with max_uses 5 may also spend 5 * $0.01 = $0.05 on searches: with the
        // tokens that is over the cap, so it is refused before anything is sent (the hold used to leave the searches out).
        using var searching = await PostAsync(http, Body(), created.Key);

        Assert.Equal(HttpStatusCode.TooManyRequests, searching.StatusCode);
        using var error = JsonDocument.Parse(await searching.Content.ReadAsStringAsync());
        Assert.Equal("rate_limit_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Single(_harness.Fake.MessageRequests);
    }

    [Fact]
    public async Task A_settled_budget_charges_the_search_fees()
    {
        var created = await CreateKeyAsync("team-a", "1/day");
        _harness.Fake.Enqueue(FakeReply.Message().WithUsage(input: 19, output: 33, webSearchRequests: 5));
        using var http = _harness.Http();

        using var response = await PostAsync(http, Body(), created.Key);
        await _harness.StopProxyAsync(); // waits for the request to finish, settlement included

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var budgets = new SqliteBudgetStore(_harness.DbPath);
        var usage = await budgets.GetUsageAsync(created.Info.BudgetScope, BudgetWindow.Day, _harness.Time!.GetUtcNow());
        // 19*1 + 33*5 = 184 /1e6 = 0.000184; 5 searches * 0.01 = 0.05; spent 0.050184, nothing left held.
        Assert.Equal((0.050184m, 0m), (usage.SpentUsd, usage.ReservedUsd));
    }

    private async Task<CreatedApiKey> CreateKeyAsync(string name, params string[] budgets)
    {
        await using var keys = new SqliteKeyStore(_harness.DbPath);
        return await keys.CreateAsync(name, budgets.Select(BudgetCap.Parse).ToList());
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, string body, string? apiKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("x-api-key", apiKey ?? ProxyHarness.ClientKey);
        return await http.SendAsync(request);
    }
}
