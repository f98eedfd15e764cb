using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Routing;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// <c>model: "auto"</c> (and other aliases) at the proxy: the library's routing policy decides, only the body's
/// <c>model</c> is rewritten, and the ledger records the alias, the routed model, the policy and its reason.
/// </summary>
public sealed class ProxyRoutingTests
{
    private static readonly string Haiku = PriceBook.Default.ResolveTier("haiku");
    private static readonly string Sonnet = PriceBook.Default.ResolveTier("sonnet");
    private static readonly string Opus = PriceBook.Default.ResolveTier("opus");

    private static string Ask(string model, string prompt, string extra = "") =>
        $$"""{"model":"{{model}}","max_tokens":512,"messages":[{"role":"user","content":{{JsonValue.Create(prompt).ToJsonString()}}}]{{extra}}}""";

    private static async Task<HttpResponseMessage> PostAsync(ProxyHarness harness, string body, string? task = null, string? session = null)
    {
        using var http = harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        if (task is not null)
        {
            request.Headers.Add("x-modelmix-task", task);
        }

        if (session is not null)
        {
            request.Headers.Add("x-modelmix-session", session);
        }

        return await http.SendAsync(request);
    }

    [Fact]
    public async Task Auto_sends_a_short_classification_to_haiku_and_records_why()
    {
        await using var harness = await ProxyHarness.StartAsync();
        var body = Ask("auto", "Classify this support ticket as billing, bug or feature request: 'I was charged twice this month.'");

        using var response = await PostAsync(harness, body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Haiku, response.Headers.GetValues("x-modelmix-routed-model").Single());
        var forwarded = Assert.Single(harness.Fake.MessageRequests);
        Assert.Equal(Haiku, forwarded.Json!["model"]!.GetValue<string>());
        var record = Assert.Single(await harness.ReadLedgerAsync());
        Assert.Equal("auto", record.RequestedModel);
        Assert.Equal(Haiku, record.RoutedModel);
        Assert.Equal(RulesPolicy.DefaultName, record.Policy);
        Assert.Contains(DefaultRules.HaikuKeywords, record.Reason, StringComparison.Ordinal);
        Assert.NotNull(record.Cost);
    }

    [Fact]
    public async Task Auto_sends_an_architecture_review_to_opus()
    {
        await using var harness = await ProxyHarness.StartAsync();

        using var response = await PostAsync(harness, Ask("auto", "Please do an architecture review of our event-sourced billing system and its failure modes."));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Opus, Assert.Single(harness.Fake.MessageRequests).Json!["model"]!.GetValue<string>());
        Assert.Contains(DefaultRules.OpusKeywords, Assert.Single(await harness.ReadLedgerAsync()).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Only_the_model_value_is_rewritten_and_unknown_fields_pass_through_byte_for_byte()
    {
        await using var harness = await ProxyHarness.StartAsync();
        const string Tail = """,  "future_field" : {"nested": [1, 2.50, "é\u00e9"]}, "metadata":{"user_id":"u-1"}""";
        var body = Ask("auto", "Write a friendly note to the team about the release.", Tail);

        using var response = await PostAsync(harness, body, task: "writing");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var forwarded = Assert.Single(harness.Fake.MessageRequests).Body;
        Assert.Equal(body.Replace("\"model\":\"auto\"", $"\"model\":\"{Sonnet}\"", StringComparison.Ordinal), forwarded);
    }

    [Fact]
    public async Task A_configured_pin_wins_for_its_task_label()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:Routing:Pins:contract-review"] = "opus");

        using var response = await PostAsync(harness, Ask("auto", "Classify this clause as standard or unusual."), task: "contract-review");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var record = Assert.Single(await harness.ReadLedgerAsync());
        Assert.Equal(Opus, record.RoutedModel);
        Assert.Contains("contract-review", record.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Auto_cheap_and_configured_aliases_route_with_their_own_default()
    {
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:Aliases:bulk:Default"] = "haiku";
            settings["ModelMix:Aliases:bulk:Rules:0:Name"] = "everything-cheap";
            settings["ModelMix:Aliases:bulk:Rules:0:Target"] = "haiku";
        });

        using (var response = await PostAsync(harness, Ask("bulk", "Please do an architecture review of the whole platform.")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var response = await PostAsync(harness, Ask("auto-cheap", "hello there")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var records = await harness.ReadLedgerAsync();
        Assert.Equal(Haiku, records.Single(record => record.RequestedModel == "bulk").RoutedModel);
        Assert.Contains("everything-cheap", records.Single(record => record.RequestedModel == "bulk").Reason, StringComparison.Ordinal);
        Assert.Equal(Haiku, records.Single(record => record.RequestedModel == "auto-cheap").RoutedModel);
    }

    [Fact]
    public async Task Auto_meta_asks_a_cheap_classifier_and_routes_where_it_says_with_its_cost_linked()
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var replies = new Cascade.TextReplies();
        harness.Fake.Enqueue(replies.Message("{\"tier\":\"opus\",\"reason\":\"multi-service migration plan\"}"));

        using var response = await PostAsync(harness, Ask("auto-meta", "Plan the migration of our three services to the new queue."));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var upstream = harness.Fake.MessageRequests;
        Assert.Equal(2, upstream.Count);
        Assert.StartsWith("claude-haiku-5-5", upstream[0].Json!["model"]!.GetValue<string>(), StringComparison.Ordinal); // the classifier: the default haiku tier
        Assert.Equal(Opus, upstream[1].Json!["model"]!.GetValue<string>());
        var records = await harness.ReadLedgerAsync();
        Assert.Equal(2, records.Count);
        Assert.Single(records.Select(record => record.RequestId).Distinct());
        var routed = records.Single(record => record.RequestedModel == "auto-meta");
        Assert.Equal(Opus, routed.RoutedModel);
        Assert.Contains("multi-service migration plan", routed.Reason, StringComparison.Ordinal);
        var classification = records.Single(record => record != routed);
        Assert.StartsWith("claude-haiku-5-5", classification.RoutedModel, StringComparison.Ordinal);
        Assert.True(classification.Cost!.Value.Total > 0m);
        Assert.Equal((LedgerRecord.RoutingCallAttempt, 1), (classification.Attempt, routed.Attempt));

        // One request, one route: on the model the classifier chose, not also on the classifier's model.
        var routes = await RouteCountsAsync(harness, "meta", expectedTotal: 1);
        Assert.Equal([(Opus, 1L)], routes);
    }

    /// <summary>
    /// The <c>modelmix_route_total</c> series of one reason, by model, once their total reaches
    /// <paramref name="expectedTotal"/> (a counter is updated just after its record is buffered; waits at most 10 s).
    /// </summary>
    private static async Task<List<(string Model, long Count)>> RouteCountsAsync(ProxyHarness harness, string reason, long expectedTotal)
    {
        using var http = harness.Http();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var text = await http.GetStringAsync("metrics");
            var routes = text.Split('\n')
                .Where(line => line.StartsWith("modelmix_route_total{", StringComparison.Ordinal) && line.Contains($"reason=\"{reason}\"", StringComparison.Ordinal))
                .Select(line => (
                    Model: line[(line.IndexOf("model=\"", StringComparison.Ordinal) + 7)..].Split('"')[0],
                    Count: (long)double.Parse(line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture)))
                .OrderBy(route => route.Model, StringComparer.Ordinal)
                .ToList();
            if (routes.Sum(route => route.Count) >= expectedTotal || DateTime.UtcNow > deadline)
            {
                return routes;
            }

            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Auto_meta_charges_its_classification_to_the_budget_with_the_answer()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:SessionBudgetUsd"] = "1");
        using var replies = new Cascade.TextReplies();
        harness.Fake.Enqueue(replies.Message("{\"tier\":\"sonnet\",\"reason\":\"a summary\"}"));

        using (var response = await PostAsync(harness, Ask("auto-meta", "Summarise our incident review."), session: "s-1"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var records = await harness.ReadLedgerAsync();
        await harness.StopProxyAsync(); // waits for the request to finish, settlement included

        Assert.Equal(2, records.Count);
        var recorded = records.Sum(record => record.Cost!.Value.Total);
        Assert.True(records.Single(record => record.Attempt == LedgerRecord.RoutingCallAttempt).Cost!.Value.Total > 0m);
        await using var budgets = new SqliteBudgetStore(harness.DbPath);
        var usage = await budgets.GetUsageAsync("session:-:s-1", BudgetWindow.Total, DateTimeOffset.UtcNow);
        Assert.Equal((recorded, 0m), (usage.SpentUsd, usage.ReservedUsd));
    }

    [Fact]
    public async Task Auto_meta_over_budget_is_refused_before_the_classifier_is_paid()
    {
        // The hold covers the classification and the costliest answer (Opus, 512 tokens ≈ $0.013): more than $0.005.
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:SessionBudgetUsd"] = "0.005");

        using var response = await PostAsync(harness, Ask("auto-meta", "Plan the migration of our three services to the new queue."), session: "s-1");

        Assert.Equal((HttpStatusCode)429, response.StatusCode);
        Assert.Contains("s-1", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, harness.Fake.MessageCount);
        Assert.Empty(await harness.ReadLedgerAsync());
    }

    [Fact]
    public async Task Auto_meta_in_a_session_stopped_by_the_loop_guard_pays_no_classification()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:LoopGuard:MaxStepsPerSession"] = "1");
        using var replies = new Cascade.TextReplies();
        harness.Fake.Enqueue(replies.Message("{\"tier\":\"haiku\",\"reason\":\"a greeting\"}"));

        using (var first = await PostAsync(harness, Ask("auto-meta", "Say hello."), session: "agent-1"))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using var stopped = await PostAsync(harness, Ask("auto-meta", "Say hello again."), session: "agent-1");

        Assert.Equal(HttpStatusCode.BadRequest, stopped.StatusCode);
        Assert.Contains("step limit", (await ProxyValidationTests.ReadErrorAsync(stopped)).Message, StringComparison.Ordinal);
        Assert.Equal(2, harness.Fake.MessageCount); // the first request's classification and answer only
        var guard = Assert.Single(await harness.ReadLedgerAsync(), record => record.ErrorType == "loop_guard");
        Assert.Equal(("auto-meta", "auto-meta", 0m), (guard.RequestedModel, guard.RoutedModel, guard.Cost!.Value.Total));
    }

    [Fact]
    public async Task Auto_meta_falls_back_to_the_default_when_the_classification_is_malformed()
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var replies = new Cascade.TextReplies();
        harness.Fake.Enqueue(replies.Message("I think this is probably a medium task."));

        using var response = await PostAsync(harness, Ask("auto-meta", "Tell me about queues."));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var routed = (await harness.ReadLedgerAsync()).Single(record => record.RequestedModel == "auto-meta");
        Assert.Equal(Sonnet, routed.RoutedModel);
    }

    [Fact]
    public async Task A_real_model_id_passes_through_unrouted()
    {
        await using var harness = await ProxyHarness.StartAsync();

        using var response = await PostAsync(harness, Ask("claude-opus-4-5", "Classify this: spam or not?"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var record = Assert.Single(await harness.ReadLedgerAsync());
        Assert.Equal("claude-opus-4-5", record.RoutedModel);
        Assert.Equal("passthrough", record.Policy);
    }

    [Fact]
    public async Task Unknown_model_error_names_the_aliases()
    {
        // The refusal is ModelMix:UnpricedModels = Refuse; by default a model the catalog cannot price (here a mistyped
        // alias) is forwarded and recorded unpriced (UnpricedModelTests).
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:UnpricedModels"] = "Refuse");

        using var response = await PostAsync(harness, Ask("autoo", "hi"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ProxyValidationTests.ReadErrorAsync(response);
        Assert.Contains("auto-cheap", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, harness.Fake.MessageCount);
    }

    [Fact]
    public async Task Bad_routing_configuration_fails_the_start_naming_the_rule()
    {
        using var dir = new TempDirectory();
        var settings = new Dictionary<string, string?>
        {
            ["ModelMix:Db"] = Path.Combine(dir.Path, "l.db"),
            ["ModelMix:Routing:Rules:0:Name"] = "broken-rule",
            ["ModelMix:Routing:Rules:0:Target"] = "claude-nonexistent-1",
        };

        await using var app = ProxyApplication.Create("http://127.0.0.1:0", null, settings);
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync());

        Assert.Contains("broken-rule", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rewriter_replaces_an_escaped_model_value_and_ignores_nested_model_keys()
    {
        var body = Encoding.UTF8.GetBytes("""{"metadata":{"model":"keep"},"model":"au\u0074o","messages":[{"model":"keep"}]}""");

        var rewritten = Encoding.UTF8.GetString(RequestBodyRewriter.ReplaceModel(body, "claude-haiku-4-5"));

        Assert.Equal("""{"metadata":{"model":"keep"},"model":"claude-haiku-4-5","messages":[{"model":"keep"}]}""", rewritten);
    }
}
