using System.Text;
using FakeAnthropic;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Shadow;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Shadow;
using ModelMix.Tests.Shared;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// Shadow mode at a real proxy whose store is a real PostgreSQL database (<c>ModelMix:Store</c>), with FakeAnthropic
/// as upstream: the pairs land in PostgreSQL's <c>shadow_pairs</c>, linked to the ledger records there, and the shadow
/// budget is held in PostgreSQL's budget tables.
/// </summary>
public sealed class PostgresShadowProxyTests : IAsyncLifetime, IDisposable
{
    private readonly ShadowReplies _replies = new();
    private ProxyHarness _harness = null!;
    private string _store = string.Empty;

    public async Task InitializeAsync()
    {
        _store = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("shadow");
        _harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:Store"] = _store;
            settings["ModelMix:Shadow:CandidateModel"] = "claude-sonnet-4-6"; // Sonnet 4.5 retired on 2026-11-30: a retired candidate is skipped
            settings["ModelMix:Shadow:DefaultRate"] = "0";
            settings["ModelMix:Shadow:Rates:sentiment"] = "1";
            settings["ModelMix:Shadow:DailyBudgetUsd"] = "5";
            settings["ModelMix:Shadow:TotalBudgetUsd"] = "100";
        });
    }

    public async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        Npgsql.NpgsqlConnection.ClearAllPools();
    }

    public void Dispose() => _replies.Dispose();

    private async Task<HttpResponseMessage> PostAsync(bool stream)
    {
        using var http = _harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
        {
            Content = new StringContent(
                $$"""{"model":"claude-haiku-4-5","max_tokens":64,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Classify the sentiment: I love it."}]}""",
                Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Add("x-api-key", ProxyHarness.ClientKey);
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("x-modelmix-task", "sentiment");
        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    private async Task<List<ShadowPair>> WaitForPairsAsync(int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var store = new PostgresLedgerStore(_store);
        await store.MigrateAsync();
        while (true)
        {
            var pairs = new List<ShadowPair>();
            await foreach (var pair in store.ReadShadowPairsAsync())
            {
                pairs.Add(pair);
            }

            if (pairs.Count >= count)
            {
                return pairs;
            }

            await Task.Delay(50, timeout.Token);
        }
    }

    private async Task<List<LedgerRecord>> ReadLedgerAsync()
    {
        await _harness.Ledger.FlushAsync();
        await using var store = new PostgresLedgerStore(_store);
        await store.MigrateAsync();
        var records = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            records.Add(record);
        }

        return records;
    }

    [Fact]
    public async Task Shadow_mode_starts_on_postgres_and_its_pairs_link_to_the_ledger_records_there()
    {
        // One request at a time: the live answer, then its shadow call, take the next queued replies in order.
        _harness.Fake.Enqueue(_replies.Text("positive"));
        _harness.Fake.Enqueue(_replies.Text("Positive."));
        using (var plain = await PostAsync(stream: false))
        {
            Assert.Equal(200, (int)plain.StatusCode);
            Assert.Contains("positive", await plain.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await WaitForPairsAsync(1);
        _harness.Fake.Enqueue(FakeReply.Stream());
        _harness.Fake.Enqueue(_replies.Text("negative"));
        using (var streamed = await PostAsync(stream: true))
        {
            Assert.Equal(200, (int)streamed.StatusCode);
            Assert.Contains("message_stop", await streamed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var pairs = await WaitForPairsAsync(2);
        var records = await ReadLedgerAsync();

        Assert.Equal(2, pairs.Count);
        Assert.Equal([1.0, 0.0], pairs.Select(p => p.Agreement));
        Assert.Equal(4, records.Count); // two live calls and two shadow calls, all in PostgreSQL
        foreach (var pair in pairs)
        {
            Assert.Equal("ok", pair.Status);
            Assert.Equal("sentiment", pair.TaskLabel);
            Assert.Equal(("claude-haiku-4-5", "claude-sonnet-4-6"), (pair.LiveModel, pair.ShadowModel));
            var live = Assert.Single(records, r => r.ShadowPairId == pair.PairId && r.Policy != ShadowRunner.Policy);
            var shadow = Assert.Single(records, r => r.ShadowPairId == pair.PairId && r.Policy == ShadowRunner.Policy);
            Assert.Equal(pair.LiveRequestId, live.RequestId);
            Assert.Equal(pair.PairId, shadow.RequestId);
            Assert.Equal("claude-sonnet-4-6", shadow.RoutedModel);
            Assert.Null(shadow.KeyId);
            Assert.Equal(live.Cost!.Value.Total, pair.LiveCostUsd);
            Assert.Equal(shadow.Cost!.Value.Total, pair.ShadowCostUsd);
            Assert.Equal(live.Usage.OutputTokens, pair.LiveOutputTokens);
            Assert.Equal(shadow.Usage.OutputTokens, pair.ShadowOutputTokens);
            Assert.True(pair.ShadowCostUsd > 0m);
            Assert.Null(pair.Prompt);
            Assert.Null(pair.LiveAnswer);
            Assert.Null(pair.ShadowAnswer);
        }

        Assert.True(records.Single(r => r.ShadowPairId == pairs[1].PairId && r.Policy != ShadowRunner.Policy).Streaming);
        Assert.DoesNotContain("\"stream\"", _harness.Fake.MessageRequests[3].Body, StringComparison.Ordinal);

        // The shadow budget is PostgreSQL's too: both shadow calls settle (just after their pair is stored) to their
        // recorded cost, and nothing is left held.
        await using var budgets = new PostgresBudgetStore(_store);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var usage = await budgets.GetUsageAsync(ShadowRunner.BudgetScope, BudgetWindow.Total, pairs[1].CompletedAt);
        while (usage.ReservedUsd != 0m)
        {
            await Task.Delay(50, timeout.Token);
            usage = await budgets.GetUsageAsync(ShadowRunner.BudgetScope, BudgetWindow.Total, pairs[1].CompletedAt);
        }

        Assert.Equal(pairs.Sum(p => p.ShadowCostUsd!.Value), usage.SpentUsd);
    }
}
