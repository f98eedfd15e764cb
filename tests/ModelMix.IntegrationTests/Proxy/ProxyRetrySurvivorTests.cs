using System.Net;
using System.Net.Sockets;
using FakeAnthropic;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// The proxy's fallback step where the <c>proxy-retry</c> mutation run found no test (docs/testing.md "Seventh
/// session"): a model cooling down sends the next request straight to the chain's next model, and an upstream that
/// cannot be reached walks the whole chain, recording why, before the client gets its 502.
/// </summary>
public sealed class ProxyRetrySurvivorTests
{
    private const string Opus = "claude-opus-4-5";
    private const string Sonnet = "claude-sonnet-4-6"; // not 4.5: retired since 2026-11-30, a chain passes over it (ModelFit)
    private const string Haiku = "claude-haiku-4-5-20251001"; // the chain sends an entry by its canonical id
    private const string Body = """{"model":"claude-opus-4-5","max_tokens":256,"messages":[{"role":"user","content":"Summarise the incident report."}]}""";

    private static void Chain(Dictionary<string, string?> settings)
    {
        settings["ModelMix:Fallback:Chain:0"] = Opus;
        settings["ModelMix:Fallback:Chain:1"] = Sonnet;
        settings["ModelMix:Fallback:Chain:2"] = Haiku;
    }

    [Fact]
    public async Task A_model_cooling_down_sends_the_next_request_straight_to_the_chains_next_model()
    {
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            Chain(settings);
            settings["ModelMix:CooldownWithoutRetryAfter"] = "01:00:00"; // cooling for the whole test, however slow the machine
        });
        for (var i = 0; i < 3; i++)
        {
            harness.Fake.Enqueue(FakeReply.Overloaded()); // Opus fails its three attempts: it cools down, the request goes to Sonnet
        }

        using var http = harness.Http();
        using (var first = await http.PostAsync("v1/messages", ProxyValidationTests.Json(Body)))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using var second = await http.PostAsync("v1/messages", ProxyValidationTests.Json(Body));

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(Sonnet, second.Headers.GetValues("x-modelmix-routed-model").Single());
        var sent = harness.Fake.MessageRequests.Select(request => request.Json!["model"]!.GetValue<string>()).ToList();
        Assert.Equal([Opus, Opus, Opus, Sonnet, Sonnet], sent); // the second request never asked Opus
        var records = await harness.ReadLedgerAsync();
        var requestIds = records.Select(record => record.RequestId).Distinct().ToList();
        Assert.Equal(2, requestIds.Count);
        var secondRecord = Assert.Single(records, record => record.RequestId != records.Single(r => r.Attempt == 4).RequestId);
        Assert.Equal((LedgerStatus.Ok, 1, Sonnet, Opus), (secondRecord.Status, secondRecord.Attempt, secondRecord.RoutedModel, secondRecord.EscalatedFrom));
        Assert.Equal($"fallback to {Sonnet}: {Opus} is cooling down after a 429/529", secondRecord.Reason);
    }

    [Fact]
    public async Task An_upstream_that_cannot_be_reached_walks_the_whole_chain_recording_why_then_answers_502()
    {
        var closedPort = FreePort();
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            Chain(settings);
            settings["ModelMix:Upstream"] = $"http://127.0.0.1:{closedPort}/";
        });
        using var http = harness.Http();

        using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json(Body));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var error = await ProxyValidationTests.ReadErrorAsync(response);
        Assert.Equal("api_error", error.Type);
        Assert.StartsWith("ModelMix could not reach the upstream API: ", error.Message, StringComparison.Ordinal);

        // Three attempts on each model (MaxRetriesPerModel 2), numbered on across the chain; each model after the first
        // says why it was taken.
        var records = (await harness.ReadLedgerAsync()).OrderBy(record => record.Attempt).ToList();
        Assert.Equal(Enumerable.Range(1, 9), records.Select(record => record.Attempt));
        Assert.Equal([Opus, Opus, Opus, Sonnet, Sonnet, Sonnet, Haiku, Haiku, Haiku], records.Select(record => record.RoutedModel));
        Assert.All(records, record => Assert.Equal(("upstream_unreachable", 0m), (record.ErrorType, record.Cost!.Value.Total)));
        Assert.Contains($"fallback to {Sonnet}: it could not be reached on {Opus}", records[3].Reason, StringComparison.Ordinal);
        Assert.Contains($"fallback to {Haiku}: it could not be reached on {Sonnet}", records[6].Reason, StringComparison.Ordinal);
        Assert.Single(records.Select(record => record.RequestId).Distinct());
    }

    [Fact]
    public async Task A_client_error_other_than_a_long_prompt_does_not_move_to_the_long_context_model()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:Fallback:LongContextModel"] = Sonnet);
        harness.Fake.Enqueue(FakeReply.Error(400, "invalid_request_error", "messages: roles must alternate"));
        using var http = harness.Http();

        using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json(Body.Replace(Opus, "claude-haiku-4-5", StringComparison.Ordinal)));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(1, harness.Fake.MessageCount); // relayed as it is: only "prompt is too long" moves a request
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
