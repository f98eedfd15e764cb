using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ModelMix.Pricing;
using ModelMix.Routing;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>The proxy's <c>auto-learned</c> alias: a router file from configuration scores each request and routes it.</summary>
public sealed class ProxyLearnedRoutingTests
{
    private static readonly string Haiku = PriceBook.Default.ResolveTier("haiku");
    private static readonly string Opus = PriceBook.Default.ResolveTier("opus");

    /// <summary>A router trained on two task labels: 'lookup' is always answered as well by the cheap tier, 'proof' never.</summary>
    private static string WriteRouter(string folder)
    {
        var examples = new List<LearnedRouterExample>();
        for (var i = 0; i < 40; i++)
        {
            examples.Add(new LearnedRouterExample($"What is the capital of country number {i}?", "lookup", CheapOk: true, MidOk: true));
            examples.Add(new LearnedRouterExample($"Prove that the sum of the first {i} odd numbers is a square, step by step.", "proof", CheapOk: false, MidOk: false));
        }

        var router = LearnedRouterTrainer.Train(examples, new LearnedRouterTiers("small", null, "large"), new LearnedRouterTrainingOptions { Features = new LearnedFeatureSettings(HashBits: 12) });
        var path = Path.Combine(folder, "router.json");
        router.Save(path);
        return path;
    }

    [Fact]
    public async Task Learned_alias_routes_easy_requests_cheap_and_hard_ones_to_the_top_tier()
    {
        using var dir = new TempDirectory();
        var routerFile = WriteRouter(dir.Path);
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:LearnedRouter:Path"] = routerFile);

        using (var response = await PostAsync(harness, "What is the capital of country number 7?", "lookup"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var response = await PostAsync(harness, "Prove that the sum of the first 9 odd numbers is a square, step by step.", "proof"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var upstream = harness.Fake.MessageRequests;
        Assert.Equal(2, upstream.Count);
        Assert.Equal(Haiku, upstream[0].Json!["model"]!.GetValue<string>());
        Assert.Equal(Opus, upstream[1].Json!["model"]!.GetValue<string>());
        var records = await harness.ReadLedgerAsync();
        Assert.All(records, record => Assert.Equal("auto-learned", record.RequestedModel));
        Assert.Contains(records, record => record.Reason!.Contains("learned router", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_tier_target_with_an_effort_routes_to_that_model_at_that_effort()
    {
        using var dir = new TempDirectory();
        var routerFile = WriteRouter(dir.Path);
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:LearnedRouter:Path"] = routerFile;
            settings["ModelMix:LearnedRouter:Top"] = "opus@low";
        });

        using (var response = await PostAsync(harness, "Prove that the sum of the first 9 odd numbers is a square, step by step.", "proof"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var sent = Assert.Single(harness.Fake.MessageRequests).Json!;
        Assert.Equal(Opus, sent["model"]!.GetValue<string>());
        Assert.Equal("low", sent["output_config"]!["effort"]!.GetValue<string>());
        var record = Assert.Single(await harness.ReadLedgerAsync());
        Assert.EndsWith($"→ {Opus} at effort low", record.Reason, StringComparison.Ordinal);
        Assert.Equal("low", record.Effort);
    }

    [Fact]
    public async Task A_bad_router_file_fails_the_start_naming_the_key()
    {
        using var dir = new TempDirectory();
        var bad = Path.Combine(dir.Path, "router.json");
        await File.WriteAllTextAsync(bad, "{\"format\":\"something-else\"}");

        var exception = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:LearnedRouter:Path"] = bad);
        });

        Assert.Contains("ModelMix:LearnedRouter:Path", exception.ToString(), StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> PostAsync(ProxyHarness harness, string prompt, string task)
    {
        using var http = harness.Http();
        var body = $$"""{"model":"auto-learned","max_tokens":256,"messages":[{"role":"user","content":{{JsonValue.Create(prompt).ToJsonString()}}}]}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("x-modelmix-task", task);
        return await http.SendAsync(request);
    }
}
