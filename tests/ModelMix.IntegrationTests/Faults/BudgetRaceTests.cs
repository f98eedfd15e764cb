using System.Net;
using System.Text;
using FakeAnthropic;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;
using ModelMix.Keys;

namespace ModelMix.IntegrationTests.Faults;

/// <summary>500 concurrent requests (streaming and not) racing one small key budget over real HTTP.</summary>
public sealed class BudgetRaceTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)] // ModelMix:InlineScheduling (every connection inline): the budget and key stores' SQLite work must leave Kestrel's event threads
    [InlineData(false, true)] // budget leases (issue 29): requests held in memory against slices of $0.001
    public async Task Five_hundred_concurrent_requests_racing_one_small_budget_never_overspend(bool inlineScheduling, bool leases)
    {
        const decimal Cap = 0.004m;
        var clock = new AnchoredClock(); // the day window read below is the one the requests were charged to
        await using var harness = await ProxyHarness.StartAsync(
            settings =>
            {
                settings["ModelMix:InlineScheduling"] = inlineScheduling ? "true" : "false";
                if (leases)
                {
                    settings["ModelMix:Budgets:LeaseSizeUsd"] = "0.001";
                }
            },
            clock);
        CreatedApiKey key;
        await using (var keys = new SqliteKeyStore(harness.DbPath))
        {
            key = await keys.CreateAsync("race", [BudgetCap.Parse("0.004/day")]);
        }

        // Off, the default still runs the first 4 connections inline and the rest (up to 512 here) on the thread pool.
        Assert.Contains(harness.Logs.Lines, line => line.Contains($"(ModelMix:InlineScheduling={inlineScheduling}, ModelMix:InlineConnections=4)", StringComparison.Ordinal));
        harness.Fake.SetDefault(FakeReply.Default.WithDelay(TimeSpan.FromMilliseconds(20)));
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 512 }) { BaseAddress = harness.ProxyUrl, Timeout = TimeSpan.FromMinutes(2) };

        var responses = await Task.WhenAll(Enumerable.Range(0, 500).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
            {
                Content = new StringContent(
                    $$"""{"model":"claude-haiku-4-5","max_tokens":50,"stream":{{(i % 2 == 0 ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}""",
                    Encoding.UTF8,
                    "application/json"),
            };
            request.Headers.Add("x-api-key", key.Key);
            request.Headers.Add("anthropic-version", "2023-06-01");
            using var response = await http.SendAsync(request);
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }));
        await harness.StopProxyAsync(); // every hold settled, the ledger flushed

        var ok = responses.Count(response => response.StatusCode == HttpStatusCode.OK);
        var refused = responses.Where(response => response.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.Equal(500, ok + refused.Count);
        Assert.True(ok >= 1 && refused.Count >= 1, $"{ok} answered, {refused.Count} refused");
        Assert.All(refused, response => Assert.Contains("\"rate_limit_error\"", response.Body, StringComparison.Ordinal));

        // Refusals are in the ledger too (no upstream call, no cost); the upstream attempts are the answered requests.
        var all = await harness.ReadLedgerAsync();
        var records = all.Where(record => record.ErrorType?.StartsWith("refused:", StringComparison.Ordinal) != true).ToList();
        Assert.Equal(refused.Count, all.Count(record => record.ErrorType == "refused:rate_limit_error" && record.Cost!.Value.Total == 0m));
        Assert.Equal(ok, records.Count);
        Assert.Equal(ok, harness.Fake.MessageCount);
        var recorded = records.Sum(record => record.Cost!.Value.Total);
        Assert.True(recorded <= Cap, $"recorded spend {recorded} exceeds the cap {Cap}");

        await using var budgets = new SqliteBudgetStore(harness.DbPath);
        var usage = await budgets.GetUsageAsync(key.Info.BudgetScope, BudgetWindow.Day, clock.GetUtcNow());
        Assert.Equal(recorded, usage.SpentUsd);
        Assert.Equal(0m, usage.ReservedUsd);
        Assert.Equal(leases, await LeasesTakenAsync(harness.DbPath) > 0); // the leased run really held against slices
        SqliteConnection.ClearAllPools();
    }

    private static async Task<long> LeasesTakenAsync(string db)
    {
        await using var connection = new SqliteConnection($"Data Source={db};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM budget_reservations WHERE id LIKE 'lse!_%' ESCAPE '!';";
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
