using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using FakeAnthropic;
using Microsoft.Data.Sqlite;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Shadow;

namespace ModelMix.IntegrationTests.Faults;

/// <summary>
/// The SDK calls the proxy makes itself are journaled before they are sent (docs/ledger.md, "Crash consistency"): while
/// the fake upstream holds such a call, its intent is durable in the intent journal (so a kill then leaves an
/// outcome_unknown row for it); once the call is recorded, its record has deleted the intent.
/// </summary>
public sealed class SdkCallIntentTests
{
    [Fact]
    public async Task The_meta_routers_classification_has_a_durable_intent_while_it_is_in_flight()
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var replies = new Cascade.TextReplies();
        var release = new TaskCompletionSource();
        harness.Fake.Enqueue(replies.Message("{\"tier\":\"haiku\",\"reason\":\"simple\"}").WithHold(release.Task));
        using var http = Client(harness);
        var answered = http.SendAsync(Post("""{"model":"auto-meta","max_tokens":100,"messages":[{"role":"user","content":"Write a haiku about money."}]}"""));

        await WaitUntilAsync(() => harness.Fake.MessageCount >= 1, "the classification to reach the fake");
        var intent = Assert.Single(ReadIntents(harness.DbPath));
        Assert.Equal((0L, 0L), (intent.Attempt, intent.Streaming)); // the routing call (attempt 0), not streamed
        Assert.True(intent.OutputTokens > 0 && intent.InputTokens > 0, "the worst case is journaled");

        release.SetResult();
        using (var response = await answered)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await WaitUntilAsync(() => ReadIntents(harness.DbPath).Count == 0, "the records to complete the intents");
    }

    [Fact]
    public async Task The_cascade_verifiers_call_has_a_durable_intent_before_it_is_sent_and_until_it_is_recorded()
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var replies = new Cascade.TextReplies();
        var release = new TaskCompletionSource();
        var rating = replies.Message("{\"confidence\":0.95,\"reason\":\"complete\"}");
        // The verifier's call is the one with a system prompt: when it reaches the fake, its intent must already be
        // durable (it is read here, before the fake answers).
        var intentsWhenTheVerifierArrived = new TaskCompletionSource<List<(string RoutedModel, long Attempt, long Streaming, long InputTokens, long OutputTokens, string? ShadowPairId)>>(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Fake.Responder = body =>
        {
            if (body["system"] is null)
            {
                return null; // the tier's answer
            }

            intentsWhenTheVerifierArrived.TrySetResult(ReadIntents(harness.DbPath));
            return rating.WithHold(release.Task);
        };
        using var http = Client(harness);
        var answered = http.SendAsync(Post("""{"model":"auto-cascade","max_tokens":100,"messages":[{"role":"user","content":"Which port ships fastest?"}]}"""));

        try
        {
            var atArrival = await intentsWhenTheVerifierArrived.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(
                atArrival.Exists(intent => intent.Attempt == 2 && intent.Streaming == 0 && intent.OutputTokens > 0), // the verifier is the request's attempt 2
                "intents when the verifier's call arrived: " + string.Join("; ", atArrival));
            await WaitUntilAsync(() => ReadIntents(harness.DbPath).Count == 1, "the tier's record to complete its intent");
            var verifier = Assert.Single(ReadIntents(harness.DbPath));
            Assert.Equal((2L, 0L), (verifier.Attempt, verifier.Streaming)); // the rating of the first tier's answer (attempt 1)
        }
        finally
        {
            release.TrySetResult();
        }

        using (var response = await answered)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await WaitUntilAsync(() => ReadIntents(harness.DbPath).Count == 0, "the verifier's record to complete its intent");
        var records = await harness.ReadLedgerAsync();
        Assert.Equal(2, records.Count); // the tier's answer and the verifier's rating, each once
        Assert.All(records, record => Assert.Equal("cascade", record.Policy));
    }

    [Fact]
    public async Task A_shadow_call_has_a_durable_intent_while_it_is_in_flight()
    {
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:Shadow:CandidateModel"] = "claude-sonnet-4-6";
            settings["ModelMix:Shadow:DefaultRate"] = "1";
            settings["ModelMix:Shadow:Comparison"] = "Exact";
        });
        using var replies = new ShadowReplies();
        var release = new TaskCompletionSource();
        harness.Fake.Enqueue(replies.Text("positive"));
        harness.Fake.Enqueue(replies.Text("positive").WithHold(release.Task));
        using var http = Client(harness);
        using (var response = await http.SendAsync(Post("""{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"Classify the sentiment: I love it."}]}""")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await WaitUntilAsync(() => harness.Fake.MessageCount >= 2, "the shadow call to reach the fake");
        await WaitUntilAsync(() => ReadIntents(harness.DbPath).Count == 1, "the live answer's record to complete its intent");
        var intent = Assert.Single(ReadIntents(harness.DbPath));
        Assert.Equal(("claude-sonnet-4-6", true), (intent.RoutedModel, intent.ShadowPairId is not null));

        release.SetResult();
        await WaitUntilAsync(() => ReadIntents(harness.DbPath).Count == 0, "the shadow call's record to complete its intent");
    }

    private static List<(string RoutedModel, long Attempt, long Streaming, long InputTokens, long OutputTokens, string? ShadowPairId)> ReadIntents(string db) =>
        [.. Support.PendingIntents.Read(db).Select(i => (i.RoutedModel, (long)i.Attempt, i.Streaming ? 1L : 0L, i.InputTokens, i.OutputTokens, i.ShadowPairId))];

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "timed out waiting for " + what);
            await Task.Delay(50);
        }
    }

    private static HttpClient Client(ProxyHarness harness) =>
        new() { BaseAddress = harness.ProxyUrl, Timeout = TimeSpan.FromSeconds(60) };

    private static HttpRequestMessage Post(string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("anthropic-version", "2023-06-01");
        return request;
    }
}
