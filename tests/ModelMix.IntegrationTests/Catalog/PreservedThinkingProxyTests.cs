using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using FakeAnthropic;
using ModelMix.IntegrationTests.FakeAnthropicTests;
using ModelMix.IntegrationTests.Proxy;

namespace ModelMix.IntegrationTests.Catalog;

/// <summary>
/// Preserved thinking through the proxy, against FakeAnthropic's <see cref="PreservedThinkingSimulator"/>: a client that
/// sends each answer back exactly as returned must never hit the upstream's prefix check (the proxy's body edits —
/// model, effort, cache breakpoints — keep every earlier turn's prefix), on every routing path, with and without prompt
/// caching, streaming or not; a model switch mid-conversation drops the unreadable block and the ledger counts it.
/// </summary>
public sealed class PreservedThinkingProxyTests
{
    private static readonly string[] Tiers = ["haiku", "sonnet", "opus", "fable"];

    /// <summary>Model ids passed through, the built-in aliases, and an alias pinned to each tier.</summary>
    private static readonly string[] RoutingPaths =
    [
        "claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-fable-5-2", "claude-mythos-5-1",
        "auto", "auto-cheap", "to-opus", "to-sonnet", "to-haiku", "to-fable",
    ];

    /// <summary>About 1,900 estimated tokens: above every tier's minimum cacheable length, so caching marks system and turns.</summary>
    private static readonly string SystemPrompt = string.Concat(Enumerable.Range(1, 60).Select(i =>
        $"Policy {i}: invoices for plan {i % 7} are issued on day {i % 28 + 1} and are payable within {i % 4 + 2} weeks. "));

    private const string Tool = """{"name":"lookup_invoice","description":"Looks an invoice up by its number.","input_schema":{"type":"object","properties":{"number":{"type":"string"}},"required":["number"]}}""";

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task Four_turns_carrying_thinking_back_never_fail_the_prefix_check_on_any_routing_path(bool caching, bool streaming)
    {
        await using var harness = await StartAsync(caching);
        var simulator = new PreservedThinkingSimulator();
        harness.Fake.PreservedThinking = simulator;
        if (caching)
        {
            harness.Fake.PromptCache = new PromptCacheSimulator(); // usage with cache reads/writes, so cache-aware routing sees warm sessions
        }

        using var http = harness.Http();
        var failures = new List<string>();
        var expectedDrops = new Dictionary<string, int>(StringComparer.Ordinal);
        var markedBodies = 0;
        foreach (var path in RoutingPaths)
        {
            var talk = new Conversation(path);
            var producers = new List<(int Request, string Model)>();
            for (var turn = 1; turn <= 4; turn++)
            {
                var upstreamBefore = harness.Fake.MessageRequests.Count;
                var answer = await SendAsync(http, talk.Next($"Turn {turn}: what is due on invoice INV-{turn:000}?"), streaming);
                var upstream = harness.Fake.MessageRequests.Skip(upstreamBefore).ToList();
                if (answer.Status != HttpStatusCode.OK)
                {
                    failures.Add($"{path} turn {turn}: {(int)answer.Status} {answer.Text}{PrefixDiff(harness.Fake.MessageRequests, producers, upstream)}");
                    break;
                }

                var sent = Assert.Single(upstream); // no retries or fallbacks: one upstream call per turn
                var model = sent.Json!["model"]!.GetValue<string>();
                markedBodies += sent.Body.Contains("\"cache_control\"", StringComparison.Ordinal) ? 1 : 0;
                var dropped = producers.Count(p => !PreservedThinkingSimulator.CanRead(model, p.Model));
                var transformations = answer.Message["input_transformations"] as JsonArray;
                if (PreservedThinkingSimulator.TiedModels.Contains(model))
                {
                    if (transformations is null)
                    {
                        failures.Add($"{path} turn {turn} ({model}): no input_transformations reached the client");
                    }
                    else if (transformations.Count != dropped
                        || transformations.Any(t => t!["reason"]!.GetValue<string>() != PreservedThinkingSimulator.ModelBindingMismatch))
                    {
                        failures.Add($"{path} turn {turn} ({model}, earlier blocks by {string.Join(", ", producers.Select(p => p.Model))}): input_transformations {transformations.ToJsonString()}");
                    }
                }

                if (producers.Count > 0 && producers.All(p => p.Model == model) && transformations is { Count: > 0 })
                {
                    failures.Add($"{path} turn {turn}: the model stayed {model} and still {transformations.Count} block(s) were dropped");
                }

                if (answer.Message["content"]?[0]?["type"]?.GetValue<string>() != "thinking")
                {
                    failures.Add($"{path} turn {turn}: the answer the client got does not start with the thinking block");
                }

                expectedDrops[answer.RequestId] = dropped;
                producers.Add((harness.Fake.MessageRequests.Count - 1, model));
                talk.Answered(answer.Message);
            }

            if (path.StartsWith("claude-", StringComparison.Ordinal) || path.StartsWith("to-", StringComparison.Ordinal))
            {
                Assert.True(producers.Select(p => p.Model).Distinct().Count() <= 1, $"{path} switched models: {string.Join(", ", producers.Select(p => p.Model))}");
            }
        }

        Assert.Empty(failures);
        Assert.Equal(0, simulator.RejectedRequests);
        Assert.Equal(RoutingPaths.Length * 4, simulator.ProducedBlocks);
        if (caching)
        {
            Assert.True(markedBodies >= RoutingPaths.Length * 3, $"caching marked only {markedBodies} upstream bodies; the test must exercise breakpoints");
        }
        else
        {
            Assert.Equal(0, markedBodies);
        }

        var ledger = await harness.ReadLedgerAsync();
        foreach (var (requestId, drops) in expectedDrops)
        {
            var record = Assert.Single(ledger, r => r.RequestId == requestId);
            Assert.Equal(drops, record.ThinkingBlocksDropped);
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task A_pin_that_moves_the_conversation_drops_the_unreadable_block_and_the_ledger_counts_it(bool streaming, bool caching)
    {
        await using var harness = await StartAsync(caching);
        harness.Fake.PreservedThinking = new PreservedThinkingSimulator();
        using var http = harness.Http();
        var talk = new Conversation("to-opus");
        var first = await SendAsync(http, talk.Next("Turn 1: what is due on invoice INV-001?"), streaming);
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Empty(first.Message["input_transformations"]!.AsArray());
        talk.Answered(first.Message);

        // A pin is the operator's explicit choice: it moves the conversation even though Haiku 5.5 cannot read Opus 5.5's block.
        talk.Model = "to-opus";
        talk.Task = "quick";
        var second = await SendAsync(http, talk.Next("Turn 2: and on invoice INV-002?"), streaming);

        Assert.Equal(HttpStatusCode.OK, second.Status);
        var entry = Assert.Single(second.Message["input_transformations"]!.AsArray());
        Assert.Equal("thinking_dropped", entry!["type"]!.GetValue<string>());
        Assert.Equal("messages.1.content.0", entry["path"]!.GetValue<string>());
        Assert.Equal(PreservedThinkingSimulator.ModelBindingMismatch, entry["reason"]!.GetValue<string>());
        Assert.Equal(["claude-opus-5-5", "claude-haiku-5-5"], harness.Fake.MessageRequests.Select(r => r.Json!["model"]!.GetValue<string>()));

        var ledger = await harness.ReadLedgerAsync();
        var opus = Assert.Single(ledger, r => r.RequestId == first.RequestId);
        var haiku = Assert.Single(ledger, r => r.RequestId == second.RequestId);
        Assert.Equal(0, opus.ThinkingBlocksDropped);
        Assert.Equal("claude-haiku-5-5", haiku.RoutedModel);
        Assert.Equal("pinned", haiku.Policy);
        Assert.Contains("cannot read the thinking blocks claude-opus-5-5 made in this conversation", haiku.Reason, StringComparison.Ordinal);
        Assert.Contains("(a pin moves it anyway)", haiku.Reason, StringComparison.Ordinal);
        Assert.Equal(streaming, haiku.Streaming);
        Assert.Equal(1, haiku.ThinkingBlocksDropped);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task A_rule_that_would_move_the_conversation_to_a_cheaper_model_that_cannot_read_its_thinking_keeps_it_at_low_effort(bool streaming, bool caching)
    {
        await using var harness = await StartAsync(caching);
        var simulator = new PreservedThinkingSimulator();
        harness.Fake.PreservedThinking = simulator;
        using var http = harness.Http();
        var talk = new Conversation("to-opus");
        var answers = new List<Answer>();
        for (var turn = 1; turn <= 4; turn++)
        {
            talk.Model = turn == 1 ? "to-opus" : turn % 2 == 0 ? "to-haiku" : "auto-cheap"; // every later turn is routed to a cheaper tier
            var answer = await SendAsync(http, talk.Next($"Turn {turn}: what is due on invoice INV-{turn:000}?"), streaming);
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.Empty(answer.Message["input_transformations"]!.AsArray()); // nothing dropped
            answers.Add(answer);
            talk.Answered(answer.Message);
        }

        Assert.Equal(0, simulator.DroppedBlocks);
        Assert.Equal(0, simulator.RejectedRequests);
        var sent = harness.Fake.MessageRequests.Select(r => r.Json!).ToList();
        Assert.All(sent, body => Assert.Equal("claude-opus-5-5", body["model"]!.GetValue<string>()));
        Assert.Null(sent[0]["output_config"]?["effort"]); // the first turn is the policy's own choice
        Assert.All(sent.Skip(1), body => Assert.Equal("low", body["output_config"]!["effort"]!.GetValue<string>()));

        var ledger = await harness.ReadLedgerAsync();
        foreach (var answer in answers.Skip(1))
        {
            var record = Assert.Single(ledger, r => r.RequestId == answer.RequestId);
            Assert.Equal(0, record.ThinkingBlocksDropped);
            Assert.Equal("claude-opus-5-5", record.RoutedModel);
            Assert.Equal("thinking-kept", record.Policy);
            Assert.StartsWith("thinking-kept on claude-opus-5-5: claude-", record.Reason, StringComparison.Ordinal);
            Assert.Contains("cannot read the thinking blocks claude-opus-5-5 made in this conversation", record.Reason, StringComparison.Ordinal);
            Assert.Equal("low", record.Effort);
        }
    }

    [Fact]
    public async Task A_rule_that_escalates_to_a_dearer_model_moves_the_conversation_and_says_the_blocks_are_dropped()
    {
        await using var harness = await StartAsync(caching: false);
        harness.Fake.PreservedThinking = new PreservedThinkingSimulator();
        using var http = harness.Http();
        var talk = new Conversation("to-haiku");
        var first = await SendAsync(http, talk.Next("Turn 1: what is due on invoice INV-001?"), streaming: false);
        Assert.Equal(HttpStatusCode.OK, first.Status);
        talk.Answered(first.Message);

        talk.Model = "to-opus";
        var second = await SendAsync(http, talk.Next("Turn 2: now reconcile all invoices of plan 3."), streaming: false);

        Assert.Equal(HttpStatusCode.OK, second.Status);
        Assert.Single(second.Message["input_transformations"]!.AsArray());
        var record = Assert.Single(await harness.ReadLedgerAsync(), r => r.RequestId == second.RequestId);
        Assert.Equal("claude-opus-5-5", record.RoutedModel);
        Assert.Contains("the policy escalated to a dearer model", record.Reason, StringComparison.Ordinal);
        Assert.Equal(1, record.ThinkingBlocksDropped);
    }

    [Fact]
    public async Task A_proxy_that_rewrote_the_prefix_would_be_caught()
    {
        // The check is live through the proxy: a client that edits an earlier turn gets the upstream's 400 relayed.
        await using var harness = await StartAsync(caching: true);
        harness.Fake.PreservedThinking = new PreservedThinkingSimulator();
        using var http = harness.Http();
        var talk = new Conversation("to-sonnet");
        for (var turn = 1; turn <= 2; turn++)
        {
            var answer = await SendAsync(http, talk.Next($"Turn {turn}."), streaming: false);
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            talk.Answered(answer.Message);
        }

        talk.Messages[0]!["content"] = "Turn 1, edited.";
        var edited = await SendAsync(http, talk.Next("Turn 3."), streaming: false);

        Assert.Equal(HttpStatusCode.BadRequest, edited.Status);
        Assert.Contains("messages.1.content.0: Invalid `signature` in `thinking` block. The block is bound to a different conversation.", edited.Text, StringComparison.Ordinal);
    }

    private static Task<ProxyHarness> StartAsync(bool caching) => ProxyHarness.StartAsync(settings =>
    {
        foreach (var tier in Tiers)
        {
            settings[$"ModelMix:Aliases:to-{tier}:Default"] = tier;
            settings[$"ModelMix:Aliases:to-{tier}:Rules:0:Name"] = "everything";
            settings[$"ModelMix:Aliases:to-{tier}:Rules:0:Target"] = tier;
        }

        settings["ModelMix:Aliases:to-opus:Pins:quick"] = "haiku";

        settings["ModelMix:Caching:Enabled"] = caching ? "true" : "false";
        settings["ModelMix:MaxRetries"] = "0";
    });

    private static async Task<Answer> SendAsync(HttpClient http, (JsonObject Body, string Session, string? Task) request, bool streaming)
    {
        if (streaming)
        {
            request.Body["stream"] = true;
        }

        using var message = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
        {
            Content = new StringContent(request.Body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        message.Headers.Add("anthropic-version", "2023-06-01");
        message.Headers.Add("x-modelmix-session", request.Session);
        if (request.Task is not null)
        {
            message.Headers.Add("x-modelmix-task", request.Task);
        }

        using var response = await http.SendAsync(message);
        var text = await response.Content.ReadAsStringAsync();
        var requestId = response.Headers.TryGetValues("x-modelmix-request-id", out var ids) ? ids.First() : string.Empty;
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return new Answer(response.StatusCode, text, [], requestId);
        }

        var parsed = streaming
            ? PreservedThinkingSimulatorTests.Assemble(PreservedThinkingSimulatorTests.ParseEvents(text))
            : JsonNode.Parse(text)!.AsObject();
        return new Answer(response.StatusCode, text, parsed, requestId);
    }

    /// <summary>For a failure report: the first place the failing upstream body's prefix differs from each earlier turn's.</summary>
    private static string PrefixDiff(IReadOnlyList<RecordedRequest> all, List<(int Request, string Model)> producers, List<RecordedRequest> failing)
    {
        if (failing.Count == 0 || failing[^1].Json is not JsonObject now)
        {
            return string.Empty;
        }

        var report = new StringBuilder();
        foreach (var (index, model) in producers)
        {
            if (all[index].Json is not JsonObject then)
            {
                continue;
            }

            foreach (var field in new[] { "system", "tools" })
            {
                if (then[field]?.ToJsonString() != now[field]?.ToJsonString())
                {
                    report.Append($"\n  vs turn sent as request #{index} ({model}): {field} was {then[field]?.ToJsonString()} now {now[field]?.ToJsonString()}");
                }
            }

            var before = then["messages"]!.AsArray();
            var after = now["messages"]!.AsArray();
            for (var i = 0; i < before.Count && i < after.Count; i++)
            {
                if (before[i]!.ToJsonString() != after[i]!.ToJsonString())
                {
                    report.Append($"\n  vs request #{index} ({model}): messages[{i}] was {before[i]!.ToJsonString()} now {after[i]!.ToJsonString()}");
                }
            }
        }

        return report.ToString();
    }

    private sealed record Answer(HttpStatusCode Status, string Text, JsonObject Message, string RequestId);

    /// <summary>A client conversation: the same system and tools every turn, each answer's content sent back as returned.</summary>
    private sealed class Conversation(string model)
    {
        private readonly string _session = "thinking-" + Guid.NewGuid().ToString("N");

        public string Model { get; set; } = model;

        public string? Task { get; set; }

        public JsonArray Messages { get; } = [];

        /// <summary>Appends a user turn (odd turns as a string, even turns as one text block: both shapes clients send).</summary>
        public (JsonObject Body, string Session, string? Task) Next(string user)
        {
            JsonNode content = Messages.Count % 4 == 0 ? user : new JsonArray(new JsonObject { ["type"] = "text", ["text"] = user });
            Messages.Add(new JsonObject { ["role"] = "user", ["content"] = content });
            var body = new JsonObject
            {
                ["model"] = Model,
                ["max_tokens"] = 2048,
                ["thinking"] = new JsonObject { ["type"] = "adaptive" },
                ["system"] = SystemPrompt,
                ["tools"] = new JsonArray(JsonNode.Parse(Tool)),
                ["messages"] = Messages.DeepClone(),
            };
            return (body, _session, Task);
        }

        public void Answered(JsonObject message) =>
            Messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = message["content"]!.DeepClone() });
    }
}
