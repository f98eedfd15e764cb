using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using FakeAnthropic;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;
using ModelMix.Keys;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Batching;

/// <summary>Key budgets hold a batch job's worst case at the batch rate and settle to the ledger's batch cost when it ends.</summary>
public sealed class BatchBudgetTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static StringContent TenRequests(string prefix, long maxTokens) =>
        BatchProxyTests.Job(Enumerable.Range(0, 10).Select(i => $$"""{"custom_id":"{{prefix}}-{{i}}","params":{{BatchProxyTests.Params(i, maxTokens: maxTokens)}}}"""));

    [Fact]
    public async Task A_job_over_the_budget_is_refused_with_a_429_naming_it_and_nothing_is_queued_or_held()
    {
        await using var proxy = await ProxyHarness.StartAsync(BatchProxyTests.FastBatches, new AnchoredClock());
        var key = await CreateKeyAsync(proxy, "0.01/day");
        using var http = Http(proxy, key.Key);

        // 10 × 1000 output tokens of Haiku 4.5 at the batch rate may cost 10 × $0.0025 = $0.025: over $0.01.
        using var response = await http.PostAsync("v1/modelmix/batch", TenRequests("t", 1000));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("rate_limit_error", error["type"]!.GetValue<string>());
        Assert.Contains("daily budget of key 'team-a' is $0.01", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(response.Headers.Contains("retry-after"));

        // The same job at 150 output tokens a request (worst case ≈ $0.0038) fits the same budget.
        using var fits = await http.PostAsync("v1/modelmix/batch", TenRequests("t", 150));
        Assert.Equal(HttpStatusCode.OK, fits.StatusCode);
        var jobId = JsonNode.Parse(await fits.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        await BatchProxyTests.WaitForEndAsync(http, jobId);
        Assert.Equal(10, proxy.Fake.Batches.SubmittedCustomIds.Count); // the refused job never reached the queue
        var usage = await WaitSettledAsync(proxy, key.Info.BudgetScope);
        Assert.Equal(0m, usage.ReservedUsd);
        Assert.Equal(await JobCostAsync(proxy.DbPath, jobId), usage.SpentUsd);
    }

    [Fact]
    public async Task A_job_holds_its_worst_case_while_it_runs_and_settles_to_the_ledgers_batch_cost_when_it_ends()
    {
        await using var proxy = await ProxyHarness.StartAsync(BatchProxyTests.FastBatches, new AnchoredClock());
        proxy.Fake.Batches.InProgressPolls = int.MaxValue; // runs until the test ends it
        proxy.Fake.Batches.Outcome = (_, _) => FakeBatchOutcome.Succeeded(new FakeUsage(100, 20, ServiceTier: "batch"));
        var key = await CreateKeyAsync(proxy, "0.04/day", "1/month");
        using var http = Http(proxy, key.Key);

        // Worst case of 10 × 1000 output tokens at the batch rate ≈ $0.0252: fits $0.04 once, not twice.
        using var first = await http.PostAsync("v1/modelmix/batch", TenRequests("a", 1000));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var jobId = JsonNode.Parse(await first.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();

        await using (var budgets = new SqliteBudgetStore(proxy.DbPath))
        {
            var held = await budgets.GetUsageAsync(key.Info.BudgetScope, BudgetWindow.Day, proxy.Time!.GetUtcNow());
            Assert.InRange(held.ReservedUsd, 0.025m, 0.0255m);
            Assert.Equal(0m, held.SpentUsd);
        }

        using (var second = await http.PostAsync("v1/modelmix/batch", TenRequests("b", 1000)))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        }

        var batchId = await WaitForAsync(() => proxy.Fake.Batches.BatchIds is [var only, ..] ? only : null);
        proxy.Fake.Batches.EndNow(batchId);
        await BatchProxyTests.WaitForEndAsync(http, jobId);

        var cost = await JobCostAsync(proxy.DbPath, jobId);
        Assert.Equal(10 * 0.0001m, cost); // (100 × $1 + 20 × $5) / 1e6 at half price, ten times
        foreach (var window in new[] { BudgetWindow.Day, BudgetWindow.Month })
        {
            var usage = await WaitSettledAsync(proxy, key.Info.BudgetScope, window);
            Assert.Equal(0m, usage.ReservedUsd);
            Assert.Equal(cost, usage.SpentUsd);
        }

        // With the hold settled to $0.001, the job refused before now fits.
        using var again = await http.PostAsync("v1/modelmix/batch", TenRequests("b", 1000));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    internal static async Task<CreatedApiKey> CreateKeyAsync(ProxyHarness proxy, params string[] budgets)
    {
        await using var keys = new SqliteKeyStore(proxy.DbPath);
        return await keys.CreateAsync("team-a", budgets.Select(BudgetCap.Parse).ToList());
    }

    internal static HttpClient Http(ProxyHarness proxy, string key)
    {
        var http = new HttpClient { BaseAddress = proxy.ProxyUrl };
        http.DefaultRequestHeaders.Add("x-api-key", key);
        return http;
    }

    internal static async Task<decimal> JobCostAsync(string db, string jobId)
    {
        await using var ledger = new SqliteLedgerStore(db);
        await ledger.MigrateAsync(CancellationToken.None);
        var totals = await ledger.GetTotalsAsync(new LedgerQuery { RequestId = jobId }, CancellationToken.None);
        Assert.Equal(0, totals.UnpricedCount);
        Assert.True(totals.Count > 0, "the job has no ledger records");
        return totals.Cost.Total;
    }

    /// <summary>
    /// The budget's usage once nothing is reserved (settling runs right after the job's last results are stored), read
    /// at the proxy's clock (an <see cref="AnchoredClock"/> keeps a day window from straddling midnight).
    /// </summary>
    internal static async Task<BudgetUsage> WaitSettledAsync(ProxyHarness proxy, string scope, BudgetWindow window = BudgetWindow.Day)
    {
        var db = proxy.DbPath;
        var time = proxy.Time ?? TimeProvider.System;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            BudgetUsage usage;
            await using (var budgets = new SqliteBudgetStore(db))
            {
                usage = await budgets.GetUsageAsync(scope, window, time.GetUtcNow());
            }

            if (usage.ReservedUsd == 0m || clock.Elapsed > Patience)
            {
                SqliteConnection.ClearAllPools();
                return usage;
            }

            await Task.Delay(100);
        }
    }

    private static async Task<T> WaitForAsync<T>(Func<T?> probe)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (probe() is { } value)
            {
                return value;
            }

            Assert.True(clock.Elapsed < Patience, "timed out");
            await Task.Delay(50);
        }
    }
}
