using System.Diagnostics;
using System.Net;
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
/// A lying upstream (issue 20 item 5, docs/keys-and-budgets.md "Overshoot"): it reports 500 output tokens for
/// <c>max_tokens</c> 50. Once a proxy has seen one such answer it distrusts the upstream (every hold × the observed
/// ratio) and drains the key (new requests wait until the requests in flight are settled), so a 500-way burst that
/// follows cannot push the key past its cap: before, each replica admitted what fit at the honest holds and every one
/// of them cost ten times its output hold.
/// </summary>
public sealed class LyingUpstreamBudgetTests
{
    // Each lying answer costs 10 × $1/MTok + 500 × $5/MTok = $0.00001 + $0.0025 = $0.00251 (Haiku 4.5); its honest hold
    // is the body's bytes ÷ 4 of input (about 25 tokens, $0.000025) plus 50 × $5/MTok = $0.00025: about $0.000275.
    private const decimal LyingAnswer = 0.00251m;

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // budget leases: requests held in memory against slices of $0.001
    public async Task After_one_answer_beyond_max_tokens_a_500_way_burst_cannot_push_the_key_past_its_cap_on_sqlite(bool leases)
    {
        // $0.004: the first answer spends $0.00251, leaving $0.00149 — room for 5 honest holds ($0.000275), which would
        // cost 5 × $0.00251 = $0.01255 more (total $0.01506); one distrusted hold (≈ $0.00251) no longer fits.
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
        await using (var keys = new SqliteKeyStore(harness.DbPath))
        {
            key = await keys.CreateAsync("liar", [BudgetCap.Parse("0.004/day")]);
        }

        harness.Fake.SetDefault(FakeReply.Default.WithUsage(input: 10, output: 500).WithDelay(TimeSpan.FromMilliseconds(20)));
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 512 }) { Timeout = TimeSpan.FromMinutes(3) };
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(http, harness.ProxyUrl, key.Key, "first", 50)).Status);
        await WaitForRowsAsync(async () => (await harness.ReadLedgerAsync()).Count(r => r.KeyId == key.Info.Id), 1, harness.Ledger);

        var responses = await Task.WhenAll(Enumerable.Range(0, 500).Select(i => SendAsync(http, harness.ProxyUrl, key.Key, $"lie {i}", 50)));
        Assert.All(responses, r => Assert.True(r.Status is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{(int)r.Status}: {r.Body}"));
        await harness.StopProxyAsync();

        var records = (await harness.ReadLedgerAsync()).Where(r => r.KeyId == key.Info.Id && r.HttpStatus == 200).ToList();
        var recorded = records.Sum(r => r.Cost!.Value.Total);
        await using var budgets = new SqliteBudgetStore(harness.DbPath);
        var usage = await budgets.GetUsageAsync(key.Info.BudgetScope, BudgetWindow.Day, clock.GetUtcNow());
        Console.WriteLine($"lying upstream after one lie (SQLite, leases {leases}): {records.Count} answered, spent {recorded} against a cap of {Cap}");
        Assert.Equal(recorded, usage.SpentUsd); // every token the upstream reported is billed, budget equal to the ledger
        Assert.Equal(0m, usage.ReservedUsd);
        Assert.Equal(records.Count * LyingAnswer, recorded);
        Assert.True(recorded <= Cap, $"spent {recorded} over the cap {Cap}: {records.Count} answers of {LyingAnswer}");
        Assert.Contains(harness.Logs.Lines, line => line.Contains("more output than its max_tokens", StringComparison.Ordinal)); // reported
        SqliteConnection.ClearAllPools();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task After_each_replica_saw_an_answer_beyond_max_tokens_a_500_way_burst_through_three_postgres_replicas_cannot_push_the_key_past_its_cap(bool leases)
    {
        // $0.009: one lie per replica spends 3 × $0.00251 = $0.00753, leaving $0.00147 — room for 5 honest holds that would
        // cost 5 × $0.00251 = $0.01255 more (total $0.02008); a distrusted hold (≈ $0.00251) no longer fits on any replica.
        const decimal Cap = 0.009m;
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.RecordRequests = false;
        var store = await (await PostgresServer.GetAsync()).CreateDatabaseAsync(leases ? "liarlease" : "liar");
        CreatedApiKey key;
        await using (var keys = new PostgresKeyStore(store))
        {
            key = await keys.CreateAsync("liar", [BudgetCap.Parse("0.009/total")]);
        }

        fake.SetDefault(FakeReply.Default.WithUsage(input: 10, output: 500).WithDelay(TimeSpan.FromMilliseconds(20)));
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
            await using var ledger = new PostgresLedgerStore(store);
            await ledger.MigrateAsync();
            await using var budgets = new PostgresBudgetStore(store);
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await SendAsync(http, replicas[i].Url, key.Key, $"first {i}", 50)).Status);
                await WaitForRowsAsync(async () => await CountAsync(ledger, key), i + 1, null);
                if (!leases)
                {
                    // The reservation is settled in a ledger batch after the record's (maybe the next one): until then the
                    // other replicas see the lie's hold, not its cost. The burst below starts once all three are charged.
                    await WaitForRowsAsync(async () => (int)Math.Round((await budgets.GetUsageAsync(key.Info.BudgetScope, BudgetWindow.Total, DateTimeOffset.UtcNow)).SpentUsd / LyingAnswer), i + 1, null);
                }
            }

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
        var recorded = 0m;
        var answered = 0;
        await foreach (var record in read.ReadAsync(new LedgerQuery()))
        {
            if (record.KeyId == key.Info.Id && record.HttpStatus == 200)
            {
                recorded += record.Cost!.Value.Total;
                answered++;
            }
        }

        await using var counters = new PostgresBudgetStore(store);
        var usage = await counters.GetUsageAsync(key.Info.BudgetScope, BudgetWindow.Total, DateTimeOffset.UtcNow);
        Console.WriteLine($"lying upstream after one lie per replica (3 PostgreSQL replicas, leases {leases}): {answered} answered, spent {recorded} against a cap of {Cap}");
        Assert.Equal(recorded, usage.SpentUsd);
        Assert.Equal(0m, usage.ReservedUsd);
        Assert.Equal(answered * LyingAnswer, recorded);
        Assert.True(recorded <= Cap, $"spent {recorded} over the cap {Cap}: {answered} answers of {LyingAnswer}");
    }

    private static async Task<int> CountAsync(PostgresLedgerStore ledger, CreatedApiKey key)
    {
        var count = 0;
        await foreach (var record in ledger.ReadAsync(new LedgerQuery()))
        {
            count += record.KeyId == key.Info.Id ? 1 : 0;
        }

        return count;
    }

    /// <summary>Waits until the lie's record is stored (so the proxy has charged it and seen the overrun).</summary>
    private static async Task WaitForRowsAsync(Func<Task<int>> count, int expected, ILedger? flush)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (flush is not null)
            {
                await flush.FlushAsync();
            }

            if (await count() >= expected)
            {
                return;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "the first answers were not recorded and charged");
            await Task.Delay(50);
        }
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
