using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using FakeAnthropic;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Shadow;

/// <summary>
/// Shadow calls in the ledger (docs/shadow.md, docs/ledger.md "Crash consistency"): the candidate's row carries the
/// upstream's request id like any answer's, and a normal stop that cancels shadow calls in flight still records each
/// of them (at its worst case: it was sent and may be billed), leaves no intent pending, and settles the shadow
/// budget to exactly what the ledger holds.
/// </summary>
public sealed class ShadowLedgerTests
{
    private const string Candidate = "claude-sonnet-4-6";

    [Fact]
    public async Task The_candidates_row_carries_the_upstream_request_id_of_its_call()
    {
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:Shadow:CandidateModel"] = Candidate;
            settings["ModelMix:Shadow:DefaultRate"] = "1";
            settings["ModelMix:Shadow:Comparison"] = "Exact";
        });
        using var http = new HttpClient { BaseAddress = harness.ProxyUrl, Timeout = TimeSpan.FromSeconds(60) };
        using (var response = await http.SendAsync(Post()))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // The shadow job is queued after the answer is relayed, so the runner may still be idle here: wait for the
        // candidate's call to reach the upstream first, then for its job to finish (failed once in CI without this).
        await WaitUntilAsync(() => harness.Fake.ServedMessages.Count >= 2, "the candidate's call");
        await harness.Services.GetRequiredService<ProxyShadow>().Runner.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var records = await harness.ReadLedgerAsync();
        var served = harness.Fake.ServedMessages.Select(message => message.RequestId).ToList();
        Assert.Equal(2, served.Count); // the live call, then the candidate's
        var candidate = Assert.Single(records, record => record.Policy == "shadow");
        Assert.Equal(served[1], candidate.UpstreamRequestId);
        Assert.Equal(served[0], Assert.Single(records, record => record.Policy != "shadow").UpstreamRequestId);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_normal_stop_records_the_shadow_calls_it_cancels_and_settles_the_shadow_budget_to_the_ledger(bool judgeHeld)
    {
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:Shadow:CandidateModel"] = Candidate;
            settings["ModelMix:Shadow:DefaultRate"] = "1";
            settings["ModelMix:Shadow:Comparison"] = "Judge";
            settings["ModelMix:Shadow:JudgeModel"] = "claude-haiku-4-5";
            settings["ModelMix:Shadow:TotalBudgetUsd"] = "10";
            // The held call cannot end by itself (the fake holds it until after the stop): the stop cancels it.
            settings["ModelMix:Shadow:StopTimeout"] = "00:00:00.200";
        });
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The candidate call, or the judge call (the only one with a system prompt), is held.
        harness.Fake.Responder = body => (judgeHeld ? body["system"] is not null : (string?)body["model"] == Candidate) ? FakeReply.Default.WithHold(release.Task) : null;
        using var http = new HttpClient { BaseAddress = harness.ProxyUrl, Timeout = TimeSpan.FromSeconds(60) };
        using (var response = await http.SendAsync(Post()))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var calls = judgeHeld ? 3 : 2;
        await WaitUntilAsync(() => harness.Fake.ServedMessages.Count >= calls, "the held shadow call to reach the fake");
        await harness.StopProxyAsync();
        release.SetResult();

        // Every call the fake served is one row; the held one recorded as cancelled at its worst case.
        var records = await harness.ReadLedgerAsync();
        Assert.Equal(calls, records.Count);
        var cancelled = Assert.Single(records, record => record.Status != LedgerStatus.Ok);
        Assert.Equal((judgeHeld ? "shadow-judge" : "shadow", LedgerStatus.Failed, "cancelled", true), (cancelled.Policy, cancelled.Status, cancelled.ErrorType, cancelled.UsageEstimated));
        Assert.True(cancelled.Cost is { Total: > 0m }, "the cancelled call is not charged");
        Assert.Equal(0L, CountIntents(harness.DbPath));

        // The shadow budget: nothing held, spent exactly the pair's rows (the candidate's and the judge's).
        await using var budgets = new SqliteBudgetStore(harness.DbPath);
        var usage = await budgets.GetUsageAsync(ModelMix.Shadow.ShadowRunner.BudgetScope, BudgetWindow.Total, DateTimeOffset.UtcNow);
        Assert.Equal(0m, usage.ReservedUsd);
        Assert.Equal(records.Where(record => record.ShadowPairId is not null && record.Policy != "passthrough").Sum(record => record.Cost!.Value.Total), usage.SpentUsd);
        SqliteConnection.ClearAllPools();
    }

    private static long CountIntents(string db) => Support.PendingIntents.Read(db).Count;

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "timed out waiting for " + what);
            await Task.Delay(50);
        }
    }

    private static HttpRequestMessage Post()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
        {
            Content = new StringContent("""{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"Classify the sentiment: I love it."}]}""", Encoding.UTF8),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("anthropic-version", "2023-06-01");
        return request;
    }
}
