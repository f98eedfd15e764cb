using System.Net;
using System.Text;
using FakeAnthropic;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Cli;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Tests.Shared;

namespace ModelMix.IntegrationTests.Support;

/// <summary>
/// The set-up the lying-upstream budget tests share (LyingUpstreamBudgetTests, LyingUpstreamColdBurstTests): a fake
/// upstream whose every answer reports the given usage after 20 ms, a fresh PostgreSQL database with one key under a cap,
/// and three <c>modelmix serve</c> replicas over it (no retries, warnings only; budget leases of $0.002 when asked);
/// then the requests (<c>max_tokens</c> 50 on Haiku 4.5), the 500-way burst across the replicas, and what the key was
/// charged and the ledger answered once they are stopped. <see cref="StartSqliteAsync"/> is the same set-up on one
/// in-process proxy over a SQLite ledger.
/// </summary>
internal sealed class LyingUpstream : IAsyncDisposable
{
    private readonly List<ServeProcess> _replicas = [];
    private readonly FakeAnthropicServer _fake;

    private LyingUpstream(FakeAnthropicServer fake, string store, CreatedApiKey key)
    {
        _fake = fake;
        Store = store;
        Key = key;
    }

    /// <summary>The PostgreSQL database the replicas share.</summary>
    public string Store { get; }

    /// <summary>The capped key.</summary>
    public CreatedApiKey Key { get; }

    /// <summary>A client for the burst (<see cref="NewClient"/>).</summary>
    public HttpClient Http { get; } = NewClient();

    /// <summary>The replicas' addresses.</summary>
    public IReadOnlyList<Uri> Replicas => [.. _replicas.Select(r => r.Url)];

    /// <summary>
    /// Starts the fake upstream answering with <paramref name="input"/> and <paramref name="output"/> tokens, creates
    /// the database (named after <paramref name="database"/>) and the key capped by <paramref name="cap"/> (e.g.
    /// <c>0.009/total</c>), then the three replicas.
    /// </summary>
    public static async Task<LyingUpstream> StartAsync(string database, string cap, int input, int output, bool leases)
    {
        var fake = await FakeAnthropicServer.StartAsync();
        LyingUpstream? liar = null;
        try
        {
            fake.RecordRequests = false;
            var store = await (await PostgresServer.GetAsync()).CreateDatabaseAsync(database);
            CreatedApiKey key;
            await using (var keys = new PostgresKeyStore(store))
            {
                key = await keys.CreateAsync("liar", [BudgetCap.Parse(cap)]);
            }

            liar = new LyingUpstream(fake, store, key);
            fake.SetDefault(FakeReply.Default.WithUsage(input: input, output: output).WithDelay(TimeSpan.FromMilliseconds(20)));
            var settings = new Dictionary<string, string>
            {
                ["ModelMix__MaxRetries"] = "0",
                ["Logging__LogLevel__Default"] = "Warning",
            };
            if (leases)
            {
                settings["ModelMix__Budgets__LeaseSizeUsd"] = "0.002";
            }

            for (var i = 0; i < 3; i++)
            {
                liar._replicas.Add(await ServeProcess.StartAsync(fake.BaseUrl, store, "sk-test-upstream", settings));
            }

            return liar;
        }
        catch
        {
            if (liar is not null)
            {
                await liar.DisposeAsync();
            }
            else
            {
                await fake.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>
    /// One in-process proxy over a SQLite ledger on <paramref name="clock"/> (budget leases of $0.001 when asked), a key
    /// capped at $0.004 a day, the fake upstream answering with <paramref name="input"/> and <paramref name="output"/>
    /// tokens after 20 ms.
    /// </summary>
    public static async Task<(ProxyHarness Harness, CreatedApiKey Key)> StartSqliteAsync(TimeProvider clock, bool leases, int input, int output)
    {
        var harness = await ProxyHarness.StartAsync(
            settings =>
            {
                if (leases)
                {
                    settings["ModelMix:Budgets:LeaseSizeUsd"] = "0.001";
                }
            },
            clock);
        try
        {
            CreatedApiKey key;
            await using (var keys = new SqliteKeyStore(harness.DbPath))
            {
                key = await keys.CreateAsync("liar", [BudgetCap.Parse("0.004/day")]);
            }

            harness.Fake.SetDefault(FakeReply.Default.WithUsage(input: input, output: output).WithDelay(TimeSpan.FromMilliseconds(20)));
            return (harness, key);
        }
        catch
        {
            await harness.DisposeAsync();
            throw;
        }
    }

    /// <summary>A client for a burst: 512 connections per proxy, a three-minute timeout.</summary>
    public static HttpClient NewClient() => new(new SocketsHttpHandler { MaxConnectionsPerServer = 512 }) { Timeout = TimeSpan.FromMinutes(3) };

    /// <summary>Sends <paramref name="count"/> requests at once, round robin over the replicas; each must be answered 200 or 429.</summary>
    public Task BurstAsync(int count) => BurstAsync(Http, Replicas, Key.Key, count);

    /// <summary>Sends <paramref name="count"/> requests (<c>lie 0</c>, <c>lie 1</c>, …) at once, round robin over <paramref name="proxies"/>; each must be answered 200 or 429.</summary>
    public static async Task BurstAsync(HttpClient http, IReadOnlyList<Uri> proxies, string key, int count)
    {
        var statuses = await Task.WhenAll(Enumerable.Range(0, count).Select(i => SendAsync(http, proxies[i % proxies.Count], key, $"lie {i}", 50)));
        AssertOkOrTooMany(statuses);
    }

    /// <summary>Stops the replicas (a normal stop: their ledgers flushed).</summary>
    public async Task StopReplicasAsync()
    {
        foreach (var replica in _replicas)
        {
            await replica.TerminateAsync();
            await replica.DisposeAsync();
        }

        _replicas.Clear();
    }

    /// <summary>The key's answered (200) records in the ledger.</summary>
    public async Task<List<LedgerRecord>> ReadAnsweredAsync()
    {
        await using var read = new PostgresLedgerStore(Store);
        await read.MigrateAsync();
        var records = new List<LedgerRecord>();
        await foreach (var record in read.ReadAsync(new LedgerQuery()))
        {
            if (record.KeyId == Key.Info.Id && record.HttpStatus == 200)
            {
                records.Add(record);
            }
        }

        return records;
    }

    /// <summary>The key's budget usage over its whole life.</summary>
    public async Task<BudgetUsage> TotalUsageAsync()
    {
        await using var counters = new PostgresBudgetStore(Store);
        return await counters.GetUsageAsync(Key.Info.BudgetScope, BudgetWindow.Total, DateTimeOffset.UtcNow);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopReplicasAsync();
        Http.Dispose();
        await _fake.DisposeAsync();
    }

    /// <summary>Every burst request was answered (200) or refused for the budget (429), nothing else.</summary>
    public static void AssertOkOrTooMany(IEnumerable<(HttpStatusCode Status, string Body)> responses) =>
        Assert.All(responses, r => Assert.True(r.Status is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{(int)r.Status}: {r.Body}"));

    /// <summary>One <c>/v1/messages</c> request on Haiku 4.5 with <paramref name="key"/>, its prompt <paramref name="tag"/>.</summary>
    public static async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpClient http, Uri proxy, string key, string tag, int maxTokens)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(proxy, "v1/messages"))
        {
            Content = new StringContent($$"""{"model":"claude-haiku-4-5","max_tokens":{{maxTokens}},"messages":[{"role":"user","content":"{{tag}}"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-api-key", key);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
