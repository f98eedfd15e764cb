using System.Net;
using System.Net.Http.Headers;
using System.Text;
using FakeAnthropic;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Cli;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Tests.Shared;

namespace ModelMix.IntegrationTests.Budgets;

/// <summary>
/// The literal budget bound against a lying upstream (issue 20 item 5, docs/keys-and-budgets.md "Overshoot"): a cold
/// 500-way burst — no answer seen yet, so every first hold is the honest worst case — where every answer reports 500
/// output tokens for <c>max_tokens</c> 50 and 5,000 input tokens for a prompt of about 25. Whatever the proxy admitted
/// before it learned, the key's spent ends at most its cap plus one request's hold (W); the rest of what the upstream
/// billed is on the ledger rows as <c>overrun_usd</c>, charged to no key, and counted on <c>/metrics</c>. Before this,
/// each answer was charged in full: the key ended far above its cap.
/// </summary>
public sealed class LyingUpstreamColdBurstTests
{
    // Each answer: 5,000 × $1/MTok + 500 × $5/MTok = $0.005 + $0.0025 = $0.0075 (Haiku 4.5).
    private const decimal LyingAnswer = 0.0075m;

    // W, the largest hold a request can take: its honest worst case is about 25 input tokens ($0.000025) + 50 × $5/MTok
    // ($0.00025) = ~$0.000275; once distrusted, × the factor ceil(cost ÷ worst case × 100) ÷ 100 ≈ 27.28, from the
    // shortest prompt of the burst (a prompt one token longer holds at most 0.4 % more): ≤ $0.0075 × 1.004 + 1 % of
    // $0.000276 ≈ $0.00753, so $0.0076 bounds W with room.
    private const decimal WorstHold = 0.0076m;

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // budget leases: slices of $0.001, records charged to the lease in the ledger batch
    public async Task A_cold_500_way_burst_of_lying_answers_leaves_the_key_within_its_cap_plus_one_hold_on_sqlite(bool leases)
    {
        const decimal Cap = 0.004m;
        var clock = new AnchoredClock();
        await using var harness = await ProxyHarness.StartAsync(
            settings =>
            {
                if (leases)
                {
                    settings["ModelMix:Budgets:LeaseSizeUsd"] = "0.001";
                }
            },
            clock);
        CreatedApiKey key;
        string admin;
        await using (var keys = new SqliteKeyStore(harness.DbPath))
        {
            key = await keys.CreateAsync("liar", [BudgetCap.Parse("0.004/day")]);
            admin = (await keys.CreateAsync("ops", isAdmin: true)).Key;
        }

        harness.Fake.SetDefault(FakeReply.Default.WithUsage(input: 5000, output: 500).WithDelay(TimeSpan.FromMilliseconds(20)));
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 512 }) { Timeout = TimeSpan.FromMinutes(3) };
        var responses = await Task.WhenAll(Enumerable.Range(0, 500).Select(i => SendAsync(http, harness.ProxyUrl, key.Key, $"lie {i}", 50)));
        Assert.All(responses, r => Assert.True(r.Status is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{(int)r.Status}: {r.Body}"));
        await harness.Ledger.FlushAsync();
        using var scrape = new HttpRequestMessage(HttpMethod.Get, new Uri(harness.ProxyUrl, "metrics"));
        scrape.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin);
        var metrics = await (await http.SendAsync(scrape)).Content.ReadAsStringAsync();
        await harness.StopProxyAsync();

        var records = (await harness.ReadLedgerAsync()).Where(r => r.KeyId == key.Info.Id && r.HttpStatus == 200).ToList();
        await using var budgets = new SqliteBudgetStore(harness.DbPath);
        var usage = await budgets.GetUsageAsync(key.Info.BudgetScope, BudgetWindow.Day, clock.GetUtcNow());
        AssertBound("SQLite", leases, records, usage, Cap);
        Assert.Contains("modelmix_budget_overrun_usd", metrics, StringComparison.Ordinal); // reported on /metrics …
        Assert.Contains("modelmix_budget_overruns", metrics, StringComparison.Ordinal);
        Assert.Contains("more output than its max_tokens", string.Join('\n', harness.Logs.Lines), StringComparison.Ordinal); // … and in the log
        SqliteConnection.ClearAllPools();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_cold_500_way_burst_of_lying_answers_through_three_postgres_replicas_leaves_the_key_within_its_cap_plus_one_hold(bool leases)
    {
        const decimal Cap = 0.009m;
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.RecordRequests = false;
        var store = await (await PostgresServer.GetAsync()).CreateDatabaseAsync(leases ? "coldliarlease" : "coldliar");
        CreatedApiKey key;
        await using (var keys = new PostgresKeyStore(store))
        {
            key = await keys.CreateAsync("liar", [BudgetCap.Parse("0.009/total")]);
        }

        fake.SetDefault(FakeReply.Default.WithUsage(input: 5000, output: 500).WithDelay(TimeSpan.FromMilliseconds(20)));
        var settings = new Dictionary<string, string>
        {
            ["ModelMix__MaxRetries"] = "0",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        if (leases)
        {
            settings["ModelMix__Budgets__LeaseSizeUsd"] = "0.002";
        }

        var replicas = new List<ServeProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                replicas.Add(await ServeProcess.StartAsync(fake.BaseUrl, store, "sk-test-upstream", settings));
            }

            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 512 }) { Timeout = TimeSpan.FromMinutes(3) };
            var statuses = await Task.WhenAll(Enumerable.Range(0, 500).Select(i => SendAsync(http, replicas[i % 3].Url, key.Key, $"lie {i}", 50)));
            Assert.All(statuses, r => Assert.True(r.Status is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{(int)r.Status}: {r.Body}"));
        }
        finally
        {
            foreach (var replica in replicas)
            {
                await replica.TerminateAsync();
                await replica.DisposeAsync();
            }
        }

        await using var read = new PostgresLedgerStore(store);
        await read.MigrateAsync();
        var records = new List<LedgerRecord>();
        await foreach (var record in read.ReadAsync(new LedgerQuery()))
        {
            if (record.KeyId == key.Info.Id && record.HttpStatus == 200)
            {
                records.Add(record);
            }
        }

        await using var counters = new PostgresBudgetStore(store);
        var usage = await counters.GetUsageAsync(key.Info.BudgetScope, BudgetWindow.Total, DateTimeOffset.UtcNow);
        AssertBound("3 PostgreSQL replicas", leases, records, usage, Cap);
    }

    private static void AssertBound(string where, bool leases, List<LedgerRecord> records, BudgetUsage usage, decimal cap)
    {
        var billed = records.Sum(r => r.Cost!.Value.Total);
        var overrun = records.Sum(r => r.OverrunUsd ?? 0m);
        Console.WriteLine($"cold lying burst ({where}, leases {leases}): {records.Count} answered, upstream billed {billed}, key spent {usage.SpentUsd} against a cap of {cap} (bound {cap + WorstHold}), overrun {overrun} on {records.Count(r => r.OverrunUsd is not null)} rows");
        Assert.Equal(records.Count * LyingAnswer, billed); // the ledger keeps what the upstream billed, in full
        Assert.Equal(0m, usage.ReservedUsd);
        Assert.Equal(billed - overrun, usage.SpentUsd); // key spent = Σ cost − Σ overrun, exactly
        Assert.True(usage.SpentUsd <= cap + WorstHold, $"key spent {usage.SpentUsd} over cap {cap} + W {WorstHold}");
        Assert.True(billed > cap + WorstHold, $"the burst must get past the bound for the test to mean anything: billed {billed}");
        Assert.True(overrun > 0m); // reported on the rows
    }

    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpClient http, Uri proxy, string key, string tag, int maxTokens)
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
