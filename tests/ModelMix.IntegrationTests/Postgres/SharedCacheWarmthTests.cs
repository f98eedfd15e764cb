using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using FakeAnthropic;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelMix.Caching;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;
using ModelMix.Server;
using ModelMix.Tests.Shared;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// Cache-aware routing across replicas: two real proxies over one real PostgreSQL database and FakeAnthropic's prompt
/// cache simulator. A session warmed through one replica stays on its warm model when its next turn reaches the other;
/// a proxy that shares nothing (its own SQLite store, in-memory warmth) switches the same turn to the policy's model.
/// </summary>
public sealed class SharedCacheWarmthTests : IAsyncLifetime
{
    private const string Sonnet46 = "claude-sonnet-4-6";

    // ~12,600 characters: ~3,600 tokens by the planner's estimate: at least Sonnet 4.6's 2,048, below Haiku 4.5's 4,096.
    private static readonly string System = string.Concat(Enumerable.Range(0, 180).Select(i => $"Rule {i % 90}: answer support tickets politely and cite the policy. "));

    private readonly List<WebApplication> _proxies = [];
    private readonly TempDirectory _dir = new();
    private FakeAnthropicServer _fake = null!;
    private string _store = string.Empty;

    public async Task InitializeAsync()
    {
        _fake = await FakeAnthropicServer.StartAsync();
        _fake.PromptCache = new PromptCacheSimulator();
        _store = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("warm");
    }

    public async Task DisposeAsync()
    {
        foreach (var proxy in _proxies)
        {
            await proxy.StopAsync();
            await proxy.DisposeAsync();
        }

        await _fake.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task A_session_warmed_through_one_replica_stays_on_its_warm_model_through_another()
    {
        var a = await StartAsync(_store);
        var b = await StartAsync(_store);
        var alone = await StartAsync(Path.Combine(_dir.Path, "alone.db")); // a proxy sharing nothing
        Assert.IsType<PostgresPromptCacheWarmStore>(a.Services.GetRequiredService<IPromptCacheWarmStore>());
        Assert.IsType<InMemoryPromptCacheWarmStore>(alone.Services.GetRequiredService<IPromptCacheWarmStore>());

        using (var first = await PostAsync(a, maxTokens: 256, task: null))
        {
            Assert.Equal(Sonnet46, first.Headers.GetValues("x-modelmix-routed-model").Single());
        }

        // The write is off the request path: wait for replica A's writer to have sent it (milliseconds in practice).
        await ((PostgresPromptCacheWarmStore)a.Services.GetRequiredService<IPromptCacheWarmStore>()).FlushAsync();

        // The policy now wants Haiku; a short answer makes Sonnet's cache read cheaper than Haiku's uncached prefix.
        using (var second = await PostAsync(b, maxTokens: 16, task: "extraction"))
        {
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
            Assert.False(((PostgresPromptCacheWarmStore)b.Services.GetRequiredService<IPromptCacheWarmStore>()).Degraded, "replica B could not read the shared store");
            Assert.Equal(Sonnet46, second.Headers.GetValues("x-modelmix-routed-model").Single());
        }

        // The same turn through a proxy that does not share the warmth follows the policy to Haiku.
        using (var unshared = await PostAsync(alone, maxTokens: 16, task: "extraction"))
        {
            Assert.StartsWith("claude-haiku-4-5", unshared.Headers.GetValues("x-modelmix-routed-model").Single(), StringComparison.Ordinal);
        }

        foreach (var proxy in _proxies)
        {
            await proxy.Services.GetRequiredService<ILedger>().FlushAsync();
        }

        await using var ledger = new PostgresLedgerStore(_store);
        await ledger.MigrateAsync();
        var records = new List<LedgerRecord>();
        await foreach (var record in ledger.ReadAsync(new LedgerQuery()))
        {
            records.Add(record);
        }

        Assert.Equal(2, records.Count);
        var warmed = records.OrderBy(r => r.Timestamp).First();
        var kept = records.OrderBy(r => r.Timestamp).Last();
        Assert.True(warmed.Usage.CacheWrite5mTokens > 2_048, $"the first turn wrote the prefix: {warmed.Usage}");
        Assert.Equal(CacheAwareRouting.PolicyName, kept.Policy);
        Assert.Matches(@"^cache-warm on claude-sonnet-4-6 \(~[\d,]+ tokens cached\): switching to claude-haiku-4-5\S* would cost \$0\.\d+ more", kept.Reason);
        Assert.Equal(warmed.Usage.CacheWrite5mTokens, kept.Usage.CacheReadTokens); // replica B read the cache replica A wrote
    }

    [Fact]
    public async Task A_bad_local_ttl_for_the_shared_warm_store_fails_the_start_naming_the_key()
    {
        await using var app = ProxyApplication.Create("http://127.0.0.1:0", null, Settings(_store, s => s["ModelMix:Caching:WarmStoreLocalTtl"] = "00:05:00"));

        var exception = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains("ModelMix:Caching:WarmStoreLocalTtl", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_local_ttl_key_reaches_the_shared_warm_store_and_its_other_settings_keep_their_defaults()
    {
        await using var app = ProxyApplication.Create("http://127.0.0.1:0", null, Settings(_store, s => s["ModelMix:Caching:WarmStoreLocalTtl"] = "00:00:00.250"));

        var store = Assert.IsType<PostgresPromptCacheWarmStore>(app.Services.GetRequiredService<IPromptCacheWarmStore>());

        Assert.Equal(TimeSpan.FromMilliseconds(250), store.Options.LocalCacheTtl);
        var defaults = new PostgresPromptCacheWarmStoreOptions();
        Assert.Equal(defaults.ReadTimeout, store.Options.ReadTimeout);
        Assert.Equal(defaults.RetryAfterFailure, store.Options.RetryAfterFailure);
        Assert.Equal(defaults.PruneInterval, store.Options.PruneInterval);
    }

    private Dictionary<string, string?> Settings(string store, Action<Dictionary<string, string?>>? configure = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ModelMix:Upstream"] = _fake.BaseUrl.ToString(),
            ["ModelMix:UpstreamApiKey"] = "sk-upstream-secret-test-key-0123456789",
            ["ModelMix:Store"] = store,
            ["ModelMix:Aliases:support:Default"] = "sonnet",
            ["ModelMix:Aliases:support:Rules:0:Name"] = "extraction-cheap",
            ["ModelMix:Aliases:support:Rules:0:TaskLabels:0"] = "extraction",
            ["ModelMix:Aliases:support:Rules:0:Target"] = "haiku",
        };
        // The stay-or-switch arithmetic is on the 4.x tier models (their prices and minimum cacheable prefixes).
        TestPrices.Use4xTiers(settings);
        configure?.Invoke(settings);
        return settings;
    }

    private async Task<WebApplication> StartAsync(string store)
    {
        var app = ProxyApplication.Create("http://127.0.0.1:0", null, Settings(store));
        await app.StartAsync();
        _proxies.Add(app);
        return app;
    }

    private static async Task<HttpResponseMessage> PostAsync(WebApplication proxy, long maxTokens, string? task)
    {
        var address = proxy.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var body = new JsonObject
        {
            ["model"] = "support",
            ["max_tokens"] = maxTokens,
            ["system"] = System,
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "user", ["content"] = "Where is order 42?" },
                new JsonObject { ["role"] = "assistant", ["content"] = "It shipped yesterday." },
                new JsonObject { ["role"] = "user", ["content"] = "And the refund policy?" }),
        };
        using var http = new HttpClient { BaseAddress = new Uri(address.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(1) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("x-modelmix-session", "s1");
        if (task is not null)
        {
            request.Headers.Add("x-modelmix-task", task);
        }

        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }
}
