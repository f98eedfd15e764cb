using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ModelMix.Evaluation;
using ModelMix.Pricing;
using ModelMix.Routing;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>The proxy's <c>auto-learned</c> alias: a router file from configuration scores each request and routes it.</summary>
public sealed class ProxyLearnedRoutingTests
{
    private static readonly string Haiku = PriceBook.Default.ResolveTier("haiku");
    private static readonly string Opus = PriceBook.Default.ResolveTier("opus");

    /// <summary>
    /// A router cross-fitted and calibrated on 'shadow pairs' of two task labels: 'lookup' is always answered as well
    /// by the cheap tier, 'proof' never. With <paramref name="source"/> "shadow" the evidence is in-domain; with
    /// <paramref name="coinFlips"/> the cheap tier's outcome does not depend on the task, so nothing beats random.
    /// </summary>
    private static string WriteRouter(string folder, string source = "shadow", bool coinFlips = false)
    {
        var records = new List<DatasetRecord>();
        for (var i = 0; i < 60; i++)
        {
            var lookup = i % 2 == 0;
            var cheapOk = coinFlips ? (i / 2) % 2 == 0 : lookup;
            records.Add(new DatasetRecord
            {
                Id = $"{source}/{i}",
                Source = source,
                Task = lookup ? "lookup" : "proof",
                Prompt = lookup ? $"What is the capital of country number {i}?" : $"Prove that the sum of the first {i} odd numbers is a square, step by step.",
                Candidates = new Dictionary<string, DatasetCandidate>
                {
                    ["small"] = new(cheapOk ? 1 : 0, 0.001m),
                    ["large"] = new(1, 0.01m),
                },
            });
        }

        var fit = RouterTraining.CrossFit(records, "pairs.jsonl", new EvaluationTiers("small", null, "large"), DatasetSplit.All, 42,
            new LearnedRouterTrainingOptions { Features = new LearnedFeatureSettings(HashBits: 12), Folds = 3, Epochs = 5 });
        RouterTraining.Calibrate(fit, 0.95, null);
        var path = Path.Combine(folder, "router.json");
        fit.Router.Save(path);
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

    [Fact]
    public async Task The_start_log_says_which_evidence_the_learned_alias_serves_on()
    {
        using var dir = new TempDirectory();
        var routerFile = WriteRouter(dir.Path);
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:LearnedRouter:Path"] = routerFile);

        var line = Assert.Single(harness.Logs.Lines, l => l.Contains("serves the learned router", StringComparison.Ordinal));
        Assert.Contains("in-domain evidence: APGR", line, StringComparison.Ordinal);
        Assert.Contains("above random routing's 0.5", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Force", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_router_with_only_benchmark_evidence_is_refused_at_start_naming_the_force_key()
    {
        using var dir = new TempDirectory();
        var routerFile = WriteRouter(dir.Path, source: "routerbench");

        var exception = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:LearnedRouter:Path"] = routerFile);
        });

        var message = exception.ToString();
        Assert.Contains("does not serve 'auto-learned'", message, StringComparison.Ordinal);
        Assert.Contains("not from this deployment's traffic", message, StringComparison.Ordinal);
        Assert.Contains("ModelMix:LearnedRouter:Force", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_router_whose_in_domain_evidence_does_not_beat_random_is_refused()
    {
        using var dir = new TempDirectory();
        var routerFile = WriteRouter(dir.Path, coinFlips: true);
        Assert.False(LearnedRouter.Load(routerFile).Evidence!.BeatsRandom);

        var exception = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:LearnedRouter:Path"] = routerFile);
        });

        Assert.Contains("does not beat random routing", exception.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_router_without_evidence_is_refused_and_forcing_it_serves_it_with_a_warning_at_start()
    {
        using var dir = new TempDirectory();
        var trained = LearnedRouterTrainer.Train(
            [LearnedRouterExample.FromOutcomes("What is 2 + 2?", "lookup", true, true), LearnedRouterExample.FromOutcomes("Prove it.", "proof", false, false)],
            new LearnedRouterTiers("small", null, "large"),
            new LearnedRouterTrainingOptions { Features = new LearnedFeatureSettings(HashBits: 12), Epochs = 2 });
        var routerFile = Path.Combine(dir.Path, "router.json");
        trained.Save(routerFile);

        var refused = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:LearnedRouter:Path"] = routerFile);
        });
        Assert.Contains("records no evidence", refused.ToString(), StringComparison.Ordinal);

        await using var forced = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:LearnedRouter:Path"] = routerFile;
            settings["ModelMix:LearnedRouter:Force"] = "true";
        });
        using (var response = await PostAsync(forced, "What is 2 + 2?", "lookup"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var warning = Assert.Single(forced.Logs.Lines, l => l.Contains("only because ModelMix:LearnedRouter:Force is true", StringComparison.Ordinal));
        Assert.StartsWith("Warning", warning, StringComparison.Ordinal);
        Assert.Contains("records no evidence", warning, StringComparison.Ordinal);
        Assert.Equal("auto-learned", Assert.Single(await forced.ReadLedgerAsync()).RequestedModel);
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
