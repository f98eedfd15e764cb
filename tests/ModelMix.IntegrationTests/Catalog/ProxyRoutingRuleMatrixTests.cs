using System.Net;
using System.Text;
using FakeAnthropic;
using ModelMix.IntegrationTests.Proxy;

namespace ModelMix.IntegrationTests.Catalog;

/// <summary>
/// Every request feature some model refuses × every routing path of the proxy, against FakeAnthropic enforcing the
/// documented per-model rules: routing never turns a valid request into a 400.
/// </summary>
public sealed class ProxyRoutingRuleMatrixTests : IAsyncLifetime
{
    // auto-cascade: the verifier's ratings of FakeAnthropic's default answers fail, so every request climbs all three tiers.
    private static readonly string[] Aliases = ["to-haiku", "to-sonnet", "to-opus", "to-fable", "auto", "auto-cheap", "auto-cascade"];

    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync(settings =>
    {
        foreach (var tier in new[] { "haiku", "sonnet", "opus", "fable" })
        {
            settings[$"ModelMix:Aliases:to-{tier}:Default"] = tier;
            settings[$"ModelMix:Aliases:to-{tier}:Rules:0:Name"] = "everything";
            settings[$"ModelMix:Aliases:to-{tier}:Rules:0:Target"] = tier;
        }

        settings["ModelMix:Fallback:Chain:0"] = "opus";
        settings["ModelMix:Fallback:Chain:1"] = "sonnet";
        settings["ModelMix:Fallback:Chain:2"] = "haiku";
        settings["ModelMix:MaxRetries"] = "0";
        settings["ModelMix:CooldownWithoutRetryAfter"] = "00:00:00.001"; // each case's scripted 529 must not steer the next case
    });

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task No_routing_path_turns_a_valid_request_into_a_400()
    {
        Assert.True(_harness.Fake.EnforceModelRules);
        using var http = _harness.Http();
        var rejected = new List<string>();
        var cases = 0;
        foreach (var feature in RoutingRuleMatrix.Features.Keys)
        {
            foreach (var alias in Aliases)
            {
                cases++;
                var (status, text) = await PostAsync(http, RoutingRuleMatrix.Body(alias, feature));
                if (status != HttpStatusCode.OK)
                {
                    rejected.Add($"{feature} × {alias}: {(int)status} {text}");
                }
            }

            // The fallback chain: the routed model answers 529, and the chain's next models must accept the request too.
            cases++;
            _harness.Fake.Enqueue(FakeReply.Overloaded());
            var (fallbackStatus, fallbackText) = await PostAsync(http, RoutingRuleMatrix.Body("to-opus", feature));
            // Only Claude Opus 4.5 takes temperature and top_p together, and only Sonnet 5.5 takes between_tools: after
            // that model's 529 no other can, so the upstream's 529 is relayed (the chain ran out); never a 400.
            var onlyOneModelAccepts = feature is "temperature-and-top-p" or "thinking-between-tools" && fallbackStatus == (HttpStatusCode)529;
            if (fallbackStatus != HttpStatusCode.OK && !onlyOneModelAccepts)
            {
                rejected.Add($"{feature} × fallback: {(int)fallbackStatus} {fallbackText}");
            }
        }

        Assert.Equal(RoutingRuleMatrix.Features.Count * (Aliases.Length + 1), cases);
        Assert.Empty(rejected);
    }

    [Fact]
    public async Task Without_the_rule_check_the_same_matrix_gets_400s_so_the_test_can_fail()
    {
        // Sent straight to each tier's model (a caller's own model id is never adapted), the upstream refuses.
        using var http = _harness.Http();

        var (forced, forcedText) = await PostAsync(http, RoutingRuleMatrix.Body("claude-opus-5-5", "forced-any"));
        var (prefill, _) = await PostAsync(http, RoutingRuleMatrix.Body("claude-haiku-5-5", "prefill"));

        Assert.Equal(HttpStatusCode.BadRequest, forced);
        Assert.Contains("tool_choice", forcedText, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, prefill);
    }

    [Fact]
    public async Task The_ledger_reason_says_which_model_was_skipped_and_why()
    {
        using var http = _harness.Http();

        var (status, _) = await PostAsync(http, RoutingRuleMatrix.Body("to-opus", "forced-any"));

        Assert.Equal(HttpStatusCode.OK, status);
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal("claude-opus-5", record.RoutedModel);
        Assert.Contains("claude-opus-5-5 skipped (rejects forced tool use (tool_choice any/tool)) → claude-opus-5", record.Reason, StringComparison.Ordinal);
    }

    private static async Task<(HttpStatusCode Status, string Text)> PostAsync(HttpClient http, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
