using System.Diagnostics;
using System.Net;
using System.Text;
using FakeAnthropic;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Keys;
using ModelMix.Postgres;
using ModelMix.Server;
using ModelMix.Tests.Shared;
using Npgsql;
using Xunit.Abstractions;

namespace ModelMix.IntegrationTests.Keys;

/// <summary>
/// The key cache's bound on the real clock, through real proxies: a key revoked (or its cap lowered) out of band — the
/// way <c>modelmix keys</c>, another replica or an operator's SQL does it — stops being accepted by every proxy that had
/// it cached. On SQLite one proxy and the store directly; on PostgreSQL two replicas. The exact bound is pinned on a
/// fake clock in <c>CachedKeyStoreContractTests</c>; here the tests wait for the change with a generous timeout (the
/// machine is shared) and write the latency they observed to the test output, asserting no speed.
/// </summary>
public sealed class KeyChangeBoundTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Body = """{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly List<WebApplication> _replicas = [];
    private FakeAnthropicServer? _fake;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var replica in _replicas)
        {
            await replica.StopAsync();
            await replica.DisposeAsync();
        }

        if (_fake is not null)
        {
            await _fake.DisposeAsync();
        }
    }

    [Fact]
    public async Task Sqlite_a_key_revoked_through_the_store_stops_working_at_the_running_proxy()
    {
        await using var harness = await ProxyHarness.StartAsync();
        CreatedApiKey created;
        await using (var keys = new SqliteKeyStore(harness.DbPath))
        {
            created = await keys.CreateAsync("team-a");
        }

        using var http = harness.Http();
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(http, harness.ProxyUrl, created.Key)); // cached from here on

        var clock = Stopwatch.StartNew();
        await using (var keys = new SqliteKeyStore(harness.DbPath))
        {
            await keys.RevokeAsync("team-a");
        }

        var latency = await WaitForAsync(http, [harness.ProxyUrl], created.Key, HttpStatusCode.Unauthorized, clock);
        output.WriteLine($"SQLite: revocation honoured {latency.TotalMilliseconds:F0} ms after it was committed (bound: {CachedKeyStore.DefaultRecheckInterval.TotalMilliseconds:F0} ms + a request).");
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task Postgres_a_revocation_and_a_lowered_cap_reach_every_replica()
    {
        _fake = await FakeAnthropicServer.StartAsync();
        var store = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("keybound");
        CreatedApiKey revoked, capped;
        await using (var keys = new PostgresKeyStore(store))
        {
            revoked = await keys.CreateAsync("team-a");
            capped = await keys.CreateAsync("team-b", [BudgetCap.Parse("100/day")]);
        }

        var urls = new[] { await StartReplicaAsync(store), await StartReplicaAsync(store) };
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(1) };
        foreach (var url in urls)
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(http, url, revoked.Key));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(http, url, capped.Key));
        }

        // Revoked by another process on the same database (what `modelmix keys revoke --db postgres://…` does).
        var clock = Stopwatch.StartNew();
        await using (var keys = new PostgresKeyStore(store))
        {
            await keys.RevokeAsync("team-a");
        }

        var latency = await WaitForAsync(http, urls, revoked.Key, HttpStatusCode.Unauthorized, clock);
        output.WriteLine($"PostgreSQL, 2 replicas: revocation honoured by both {latency.TotalMilliseconds:F0} ms after it was committed.");

        // A cap lowered by hand to 1 nano-dollar: the next request cannot be reserved, so it gets 429, on both replicas.
        clock.Restart();
        await using (var connection = new NpgsqlConnection(store))
        {
            await connection.OpenAsync();
            await using var update = new NpgsqlCommand($"UPDATE api_key_budgets SET cap_nanos = 1 WHERE key_id = '{capped.Info.Id}';", connection);
            Assert.Equal(1, await update.ExecuteNonQueryAsync());
        }

        latency = await WaitForAsync(http, urls, capped.Key, HttpStatusCode.TooManyRequests, clock);
        output.WriteLine($"PostgreSQL, 2 replicas: lowered cap honoured by both {latency.TotalMilliseconds:F0} ms after it was committed.");
    }

    /// <summary>
    /// Sends requests with <paramref name="key"/> to each proxy until each answers <paramref name="expected"/> (within
    /// <see cref="Patience"/>); then checks a few more stay so, and returns when the last proxy first answered it.
    /// </summary>
    private static async Task<TimeSpan> WaitForAsync(HttpClient http, IReadOnlyList<Uri> proxies, string key, HttpStatusCode expected, Stopwatch clock)
    {
        var latest = TimeSpan.Zero;
        foreach (var proxy in proxies)
        {
            HttpStatusCode status;
            while ((status = await StatusAsync(http, proxy, key)) != expected)
            {
                Assert.True(clock.Elapsed < Patience, $"{proxy} still answered {(int)status} after {clock.Elapsed}, expected {(int)expected}");
                Assert.Equal(HttpStatusCode.OK, status);
                await Task.Delay(10);
            }

            latest = clock.Elapsed > latest ? clock.Elapsed : latest;
        }

        foreach (var proxy in proxies)
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal(expected, await StatusAsync(http, proxy, key)); // and it stays so
            }
        }

        return latest;
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient http, Uri proxy, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(proxy, "v1/messages")) { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("x-api-key", key);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    private async Task<Uri> StartReplicaAsync(string store)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ModelMix:Upstream"] = _fake!.BaseUrl.ToString(),
            ["ModelMix:UpstreamApiKey"] = "sk-upstream-secret-test-key-0123456789",
            ["ModelMix:Store"] = store,
        };
        var app = ProxyApplication.Create("http://127.0.0.1:0", null, settings);
        await app.StartAsync();
        _replicas.Add(app);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.TrimEnd('/') + "/");
    }
}
