using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.IntegrationTests.Batching;

/// <summary>A routing rule with <c>"batch": true</c> sends the requests it matches to the batch queue; others are served at once.</summary>
public sealed class BatchRoutingRuleTests
{
    private static void NightlyRule(Dictionary<string, string?> settings)
    {
        BatchProxyTests.FastBatches(settings);
        settings["ModelMix:Routing:Rules:0:Name"] = "nightly-to-batch";
        settings["ModelMix:Routing:Rules:0:TaskLabels:0"] = "nightly";
        settings["ModelMix:Routing:Rules:0:Target"] = "haiku";
        settings["ModelMix:Routing:Rules:0:Batch"] = "true";
    }

    private static async Task<HttpResponseMessage> AskAsync(HttpClient http, string task, string? batchHeader = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
        {
            Content = new StringContent(BatchProxyTests.Params(1, model: "auto"), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("x-modelmix-task", task);
        if (batchHeader is not null)
        {
            request.Headers.Add("x-modelmix-batch", batchHeader);
        }

        return await http.SendAsync(request);
    }

    [Fact]
    public void A_rules_file_accepts_batch_and_only_the_batch_rules_decisions_say_so()
    {
        var options = RoutingConfiguration.ParseJson("""
            {"rules": [
              {"name": "nightly", "taskLabels": ["nightly"], "target": "haiku", "batch": true},
              {"name": "rest", "target": "sonnet"}
            ]}
            """, "rules.json");
        var policy = RulesPolicy.Create(options.Rules!, PriceBook.Default);

        Assert.True(policy.TryDecide(new RoutingRequest { TaskLabel = "nightly" }, out var nightly));
        Assert.True(nightly.Batch);
        Assert.EndsWith(", batched", nightly.Reason, StringComparison.Ordinal);
        Assert.True(policy.TryDecide(new RoutingRequest { TaskLabel = "chat" }, out var chat));
        Assert.False(chat.Batch);
    }

    [Fact]
    public async Task A_matching_request_is_queued_and_answered_202_and_others_are_served_at_once()
    {
        await using var proxy = await ProxyHarness.StartAsync(NightlyRule);
        using var http = new HttpClient { BaseAddress = proxy.ProxyUrl };

        using var batched = await AskAsync(http, "nightly");
        Assert.Equal(HttpStatusCode.Accepted, batched.StatusCode);
        var jobId = JsonNode.Parse(await batched.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        Assert.Equal($"/v1/modelmix/batch/{jobId}", batched.Headers.Location!.ToString());
        Assert.Equal("rules", batched.Headers.GetValues("x-modelmix-batched-by").Single());
        Assert.Equal("claude-haiku-5-5", batched.Headers.GetValues("x-modelmix-routed-model").Single()); // "target": "haiku" → the default catalog's haiku tier
        await BatchProxyTests.WaitForEndAsync(http, jobId);
        Assert.Equal(0, proxy.Fake.MessageCount); // never sent to the synchronous API

        var record = Assert.Single(await BatchProxyTests.ReadLedgerAsync(proxy.DbPath, 1));
        Assert.Equal(ServiceTier.Batch, record.Usage.ServiceTier);
        Assert.Equal("auto", record.RequestedModel);
        Assert.Equal("claude-haiku-5-5", record.RoutedModel);
        Assert.StartsWith("rule 'nightly-to-batch'", record.Reason, StringComparison.Ordinal);
        Assert.Contains("batched", record.Reason, StringComparison.Ordinal);
        Assert.Equal(1, proxy.Fake.Batches.CreateCount);

        // Another task label does not match the rule: a normal synchronous answer.
        using var direct = await AskAsync(http, "chat");
        Assert.Equal(HttpStatusCode.OK, direct.StatusCode);
        Assert.Equal("message", JsonNode.Parse(await direct.Content.ReadAsStringAsync())!["type"]!.GetValue<string>());

        // x-modelmix-batch: false opts a matching request out of the rule's batch action.
        using var optedOut = await AskAsync(http, "nightly", batchHeader: "false");
        Assert.Equal(HttpStatusCode.OK, optedOut.StatusCode);
        Assert.Equal(2, proxy.Fake.MessageCount);
        Assert.Equal(1, proxy.Fake.Batches.CreateCount);
        var records = await BatchProxyTests.ReadLedgerAsync(proxy.DbPath, 3);
        Assert.Equal(2, records.Count(r => r.Usage.ServiceTier != ServiceTier.Batch && r.Status == LedgerStatus.Ok));
    }
}
