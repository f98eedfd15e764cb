using System.Net;
using System.Net.Http.Headers;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;
using ModelMix.Keys;
using ModelMix.Ledger;

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
        var (harness, key) = await LyingUpstream.StartSqliteAsync(clock, leases, input: 5000, output: 500);
        await using var _ = harness;
        string admin;
        await using (var keys = new SqliteKeyStore(harness.DbPath))
        {
            admin = (await keys.CreateAsync("ops", isAdmin: true)).Key;
        }

        using var http = LyingUpstream.NewClient();
        await LyingUpstream.BurstAsync(http, [harness.ProxyUrl], key.Key, 500);
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
        await using var liar = await LyingUpstream.StartAsync(leases ? "coldliarlease" : "coldliar", "0.009/total", input: 5000, output: 500, leases);
        await liar.BurstAsync(500);
        await liar.StopReplicasAsync();

        var records = await liar.ReadAnsweredAsync();
        var usage = await liar.TotalUsageAsync();
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
}
