using System.Net;
using System.Text;
using FakeAnthropic;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Server;
using ModelMix.Tests.Shared;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// Three real proxies (Kestrel on three loopback ports) over one real PostgreSQL database and one FakeAnthropic
/// upstream: one ledger, one set of keys, one budget, shared cooldowns.
/// </summary>
public sealed class MultiReplicaTests : IAsyncLifetime
{
    private const string Body = """{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""";

    private readonly List<WebApplication> _replicas = [];
    private FakeAnthropicServer _fake = null!;
    private string _store = string.Empty;

    public async Task InitializeAsync()
    {
        _fake = await FakeAnthropicServer.StartAsync();
        _fake.RecordRequests = true;
        _store = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("replicas");
    }

    public async Task DisposeAsync()
    {
        foreach (var replica in _replicas)
        {
            await replica.StopAsync();
            await replica.DisposeAsync();
        }

        await _fake.DisposeAsync();
    }

    [Fact]
    public async Task Five_hundred_concurrent_requests_through_three_replicas_never_overspend_one_budget()
    {
        const decimal Budget = 0.02m;
        CreatedKey key;
        await using (var keys = new PostgresKeyStore(_store))
        {
            var created = await keys.CreateAsync("team-a", [new BudgetCap(BudgetWindow.Total, Budget)]);
            key = new CreatedKey(created.Info.Id, created.Key);
        }

        var urls = new List<Uri>();
        for (var i = 0; i < 3; i++)
        {
            urls.Add(await StartReplicaAsync());
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(3) };
        var statuses = await Task.WhenAll(Enumerable.Range(0, 500).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(urls[i % 3], "v1/messages")) { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
            request.Headers.Add("anthropic-version", "2023-06-01");
            request.Headers.Add("x-api-key", key.Key);
            using var response = await http.SendAsync(request);
            return (Replica: i % 3, response.StatusCode);
        }));

        foreach (var replica in _replicas)
        {
            await replica.Services.GetRequiredService<ILedger>().FlushAsync();
        }

        var answered = statuses.Count(s => s.StatusCode == HttpStatusCode.OK);
        var refused = statuses.Count(s => s.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(500 == answered + refused, "statuses: " + string.Join(", ", statuses.GroupBy(s => s.StatusCode).Select(g => $"{(int)g.Key} x{g.Count()}")));
        Assert.InRange(answered, 1, 499); // the budget let some through and stopped the rest
        // Which replicas get the budget's calls is a race (under load one replica can start after the others spent it
        // all): what holds is that every replica took part, answering or refusing against the one shared budget.
        Assert.Equal([0, 1, 2], statuses.Select(s => s.Replica).Distinct().Order());

        await using var ledger = new PostgresLedgerStore(_store);
        await ledger.MigrateAsync();
        var totals = await ledger.GetTotalsAsync(new LedgerQuery { KeyId = key.Id });
        // Every refusal is recorded too, with no cost: the key's records are the answered requests plus the refused ones.
        Assert.Equal(answered + refused, totals.Count);
        Assert.Equal(answered, _fake.MessageCount);
        Assert.True(totals.TotalCost <= Budget, $"spent {totals.TotalCost} over a budget of {Budget}");

        // A hold settles when its request is over, which is just after the client got its answer: wait (bounded)
        // for the last settles to land before comparing with the ledger.
        await using var budgets = new PostgresBudgetStore(_store);
        var usage = await budgets.GetUsageAsync("key:" + key.Id, BudgetWindow.Total, DateTimeOffset.UtcNow);
        for (var waited = 0; usage.ReservedUsd != 0m && waited < 300; waited++)
        {
            await Task.Delay(100);
            usage = await budgets.GetUsageAsync("key:" + key.Id, BudgetWindow.Total, DateTimeOffset.UtcNow);
        }

        Assert.Equal(totals.TotalCost, usage.SpentUsd);
        Assert.Equal(0m, usage.ReservedUsd);
    }

    [Fact]
    public async Task A_model_one_replica_saw_rate_limited_is_skipped_by_another_until_retry_after()
    {
        void Chain(Dictionary<string, string?> settings)
        {
            settings["ModelMix:Fallback:Chain:0"] = "claude-haiku-4-5";
            // Sonnet 4.6, not 4.5: claude-sonnet-4-5 is retired since 2026-11-30 and a chain passes over a retired model (ModelFit).
            settings["ModelMix:Fallback:Chain:1"] = "claude-sonnet-4-6";
            settings["ModelMix:MaxRetries"] = "0";
        }

        var first = await StartReplicaAsync(Chain);
        var second = await StartReplicaAsync(Chain);
        _fake.Enqueue(FakeReply.RateLimited(TimeSpan.FromMinutes(5)));
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(1) };

        using var a = await PostAsync(http, first);
        var sentBefore = _fake.MessageRequests.Count;
        using var b = await PostAsync(http, second);

        Assert.Equal(HttpStatusCode.OK, a.StatusCode);
        Assert.Equal(HttpStatusCode.OK, b.StatusCode);
        var sent = _fake.MessageRequests.Select(request => request.Json!["model"]!.GetValue<string>()).ToList();

        // The first replica tried Haiku (429) and fell back; the second went straight to Sonnet.
        Assert.Equal("claude-haiku-4-5", sent[0]);
        Assert.StartsWith("claude-sonnet-4-6", sent[1], StringComparison.Ordinal);
        Assert.Equal(sentBefore + 1, sent.Count);
        Assert.StartsWith("claude-sonnet-4-6", sent[^1], StringComparison.Ordinal);
        Assert.StartsWith("claude-sonnet-4-6", b.Headers.GetValues("x-modelmix-routed-model").Single(), StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, Uri proxy)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(proxy, "v1/messages")) { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        return await http.SendAsync(request);
    }

    private async Task<Uri> StartReplicaAsync(Action<Dictionary<string, string?>>? configure = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ModelMix:Upstream"] = _fake.BaseUrl.ToString(),
            ["ModelMix:UpstreamApiKey"] = "sk-upstream-secret-test-key-0123456789",
            ["ModelMix:Store"] = _store,
            ["ModelMix:RetryBaseDelay"] = "00:00:00.010",
            ["ModelMix:MaxRetryDelay"] = "00:00:02",
        };
        configure?.Invoke(settings);
        var app = ProxyApplication.Create("http://127.0.0.1:0", null, settings);
        await app.StartAsync();
        _replicas.Add(app);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.TrimEnd('/') + "/");
    }

    private sealed record CreatedKey(string Id, string Key);
}
