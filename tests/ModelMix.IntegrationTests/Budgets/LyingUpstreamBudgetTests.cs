using System.Diagnostics;
using System.Net;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Postgres;

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
        var (harness, key) = await LyingUpstream.StartSqliteAsync(clock, leases, input: 10, output: 500);
        await using var _ = harness;
        using var http = LyingUpstream.NewClient();
        Assert.Equal(HttpStatusCode.OK, (await LyingUpstream.SendAsync(http, harness.ProxyUrl, key.Key, "first", 50)).Status);
        await WaitForRowsAsync(async () => (await harness.ReadLedgerAsync()).Count(r => r.KeyId == key.Info.Id), 1, harness.Ledger);

        await LyingUpstream.BurstAsync(http, [harness.ProxyUrl], key.Key, 500);
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
        await using var liar = await LyingUpstream.StartAsync(leases ? "liarlease" : "liar", "0.009/total", input: 10, output: 500, leases);
        var key = liar.Key;
        await using (var ledger = new PostgresLedgerStore(liar.Store))
        {
            await ledger.MigrateAsync();
            await using var budgets = new PostgresBudgetStore(liar.Store);
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await LyingUpstream.SendAsync(liar.Http, liar.Replicas[i], key.Key, $"first {i}", 50)).Status);
                await WaitForRowsAsync(async () => await CountAsync(ledger, key), i + 1, null);
                if (!leases)
                {
                    // The reservation is settled in a ledger batch after the record's (maybe the next one): until then the
                    // other replicas see the lie's hold, not its cost. The burst below starts once all three are charged.
                    await WaitForRowsAsync(async () => (int)Math.Round((await budgets.GetUsageAsync(key.Info.BudgetScope, BudgetWindow.Total, DateTimeOffset.UtcNow)).SpentUsd / LyingAnswer), i + 1, null);
                }
            }

            await liar.BurstAsync(500);
        }

        await liar.StopReplicasAsync();
        var records = await liar.ReadAnsweredAsync();
        var recorded = records.Sum(r => r.Cost!.Value.Total);
        var answered = records.Count;
        var usage = await liar.TotalUsageAsync();
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
}
