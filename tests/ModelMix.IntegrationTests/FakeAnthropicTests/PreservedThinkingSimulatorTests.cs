using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using FakeAnthropic;

namespace ModelMix.IntegrationTests.FakeAnthropicTests;

/// <summary>
/// The fake's preserved-thinking simulation (<c>tests/FakeAnthropic/PreservedThinkingSimulator.cs</c>), driven over raw
/// HTTP: answers carry a signed thinking block bound to model and prefix; requests to tied models get the documented
/// model check (drop without error), prefix check (400, or drop with <c>drop_block</c>) and <c>input_transformations</c>.
/// </summary>
public sealed class PreservedThinkingSimulatorTests : FakeServerTest
{
    private const string Opus55 = "claude-opus-5-5";
    private const string Tool = """{"name":"lookup","description":"Looks a record up.","input_schema":{"type":"object","properties":{"id":{"type":"string"}}}}""";
    private const string DropBlock = """{"type":"adaptive","block_binding":{"prefix_mismatch_behavior":"drop_block"}}""";

    private PreservedThinkingSimulator Simulator { get; } = new();

    [Fact]
    public async Task Own_blocks_pass_and_input_transformations_is_empty()
    {
        Server.PreservedThinking = Simulator;
        var talk = new Conversation(Opus55);

        for (var turn = 1; turn <= 4; turn++)
        {
            var (status, reply) = await SendAsync(talk.Next($"Question {turn}."));

            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(JsonValueKind.Array, reply["input_transformations"]!.GetValueKind());
            Assert.Empty(reply["input_transformations"]!.AsArray());
            var first = reply["content"]![0]!;
            Assert.Equal("thinking", first["type"]!.GetValue<string>());
            Assert.Equal(string.Empty, first["thinking"]!.GetValue<string>());
            Assert.Equal(Opus55, Simulator.ProducerOf(first["signature"]!.GetValue<string>()));
            Assert.Equal("text", reply["content"]![1]!["type"]!.GetValue<string>()); // the fixture's text follows
            talk.Answered(reply);
        }

        Assert.Equal(4, Simulator.ProducedBlocks);
        Assert.Equal(0, Simulator.DroppedBlocks);
    }

    [Theory]
    [InlineData("claude-opus-5-5", "claude-haiku-5-5", true)]
    [InlineData("claude-haiku-5-5", "claude-sonnet-5-5", true)]
    [InlineData("claude-fable-5-1", "claude-opus-5-5", true)] // nothing earlier reads Fable 5.1
    [InlineData("claude-fable-5-2", "claude-fable-5-1", true)]
    [InlineData("claude-mythos-5-1", "claude-fable-5-2", true)]
    [InlineData("claude-opus-5-5", "claude-fable-5-1", false)] // Fable 5.1 reads Opus 5.5
    [InlineData("claude-opus-5", "claude-mythos-5-1", false)]
    [InlineData("claude-fable-5", "claude-fable-5-1", false)]
    [InlineData("claude-fable-5-1", "claude-mythos-5-1", false)]
    [InlineData("claude-fable-5-2", "claude-mythos-5-2", false)]
    [InlineData("claude-mythos-5-2", "claude-fable-5-2", false)]
    public async Task A_block_the_model_cannot_read_is_dropped_without_an_error(string producer, string reader, bool dropped)
    {
        Server.PreservedThinking = Simulator;
        var talk = new Conversation(producer);
        talk.Answered((await SendAsync(talk.Next("First question."))).Reply);

        talk.Model = reader;
        var (status, reply) = await SendAsync(talk.Next("Second question."));

        Assert.Equal(HttpStatusCode.OK, status);
        var transformations = reply["input_transformations"]!.AsArray();
        if (dropped)
        {
            var entry = Assert.Single(transformations);
            Assert.Equal("thinking_dropped", entry!["type"]!.GetValue<string>());
            Assert.Equal("messages.1.content.0", entry["path"]!.GetValue<string>());
            Assert.Equal("model_binding_mismatch", entry["reason"]!.GetValue<string>());
        }
        else
        {
            Assert.Empty(transformations);
        }
    }

    [Fact]
    public async Task Model_check_ignores_prefix_mismatch_behavior_and_later_turns_keep_their_own_blocks()
    {
        Server.PreservedThinking = Simulator;
        var talk = new Conversation(Opus55);
        talk.Answered((await SendAsync(talk.Next("One."))).Reply);
        talk.Model = "claude-haiku-5-5";
        talk.Answered((await SendAsync(talk.Next("Two."))).Reply);

        var (status, reply) = await SendAsync(talk.Next("Three."));

        Assert.Equal(HttpStatusCode.OK, status);
        var entry = Assert.Single(reply["input_transformations"]!.AsArray()); // the Opus block again; Haiku's own passes
        Assert.Equal("messages.1.content.0", entry!["path"]!.GetValue<string>());
        Assert.Equal("model_binding_mismatch", entry["reason"]!.GetValue<string>());
    }

    public static TheoryData<string> Edits => ["system", "tool", "first-user-message", "assistant-text", "thinking-removed-before"];

    [Theory]
    [MemberData(nameof(Edits))]
    public async Task A_changed_prefix_is_a_400_bound_to_a_different_conversation(string edit)
    {
        Server.PreservedThinking = Simulator;
        var talk = await ThreeTurnsAsync(Opus55);
        var scriptedBefore = Server.PendingReplies;

        var body = talk.Next("Fourth question.");
        Edit(body, edit);
        var (status, reply) = await SendAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", reply["error"]!["type"]!.GetValue<string>());
        var expectedPath = edit is "assistant-text" or "thinking-removed-before" ? "messages.3.content.0" : "messages.1.content.0";
        Assert.Equal(
            $"{expectedPath}: Invalid `signature` in `thinking` block. The block is bound to a different conversation. Remove the block, or set `thinking.block_binding.prefix_mismatch_behavior` to \"drop_block\".",
            reply["error"]!["message"]!.GetValue<string>());
        Assert.Equal(scriptedBefore, Server.PendingReplies);
        Assert.Equal(1, Simulator.RejectedRequests);
    }

    [Theory]
    [InlineData("system", new[] { "messages.1.content.0", "messages.3.content.0", "messages.5.content.0" })]
    [InlineData("tool", new[] { "messages.1.content.0", "messages.3.content.0", "messages.5.content.0" })]
    [InlineData("first-user-message", new[] { "messages.1.content.0", "messages.3.content.0", "messages.5.content.0" })]
    [InlineData("assistant-text", new[] { "messages.3.content.0", "messages.5.content.0" })]
    public async Task With_drop_block_the_failing_block_and_every_later_one_are_dropped_and_reported(string edit, string[] paths)
    {
        Server.PreservedThinking = Simulator;
        var talk = await ThreeTurnsAsync(Opus55);

        var body = talk.Next("Fourth question.");
        body["thinking"] = JsonNode.Parse(DropBlock);
        Edit(body, edit);
        var (status, reply) = await SendAsync(body);

        Assert.Equal(HttpStatusCode.OK, status);
        var transformations = reply["input_transformations"]!.AsArray();
        Assert.Equal(paths, transformations.Select(t => t!["path"]!.GetValue<string>()));
        Assert.All(transformations, t =>
        {
            Assert.Equal("thinking_dropped", t!["type"]!.GetValue<string>());
            Assert.Equal("prefix_binding_mismatch", t["reason"]!.GetValue<string>());
        });
        Assert.Equal("thinking", reply["content"]![0]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Thinking_produced_after_a_change_stays_valid()
    {
        Server.PreservedThinking = Simulator;
        var talk = await ThreeTurnsAsync(Opus55);
        talk.Messages[0]!["content"] = "The first question, edited.";
        var body = talk.Next("Fourth question.");
        body["thinking"] = JsonNode.Parse(DropBlock);
        var (status, reply) = await SendAsync(body);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(3, reply["input_transformations"]!.AsArray().Count);
        talk.Answered(reply);

        var next = talk.Next("Fifth question.");
        next["thinking"] = JsonNode.Parse(DropBlock);
        var (nextStatus, nextReply) = await SendAsync(next);

        Assert.Equal(HttpStatusCode.OK, nextStatus);
        Assert.Equal(
            ["messages.1.content.0", "messages.3.content.0", "messages.5.content.0"], // the block of turn 4 (messages.7) passes
            nextReply["input_transformations"]!.AsArray().Select(t => t!["path"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_block_moved_inside_its_turn_fails_the_prefix_check()
    {
        Server.PreservedThinking = Simulator;
        var talk = await ThreeTurnsAsync(Opus55);
        var content = talk.Messages[1]!["content"]!.AsArray();
        var thinking = content[0]!;
        content.RemoveAt(0);
        content.Add(thinking);

        var (status, reply) = await SendAsync(talk.Next("Fourth question."));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("messages.1.content.1: Invalid `signature` in `thinking` block. The block is bound to a different conversation.", reply["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    public static TheoryData<string> Forgeries => ["random", "other-simulator", "changed-thinking-text", "not-base64", "missing"];

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task A_forged_signature_is_a_400_even_with_drop_block(string forgery)
    {
        Server.PreservedThinking = Simulator;
        var talk = new Conversation(Opus55);
        talk.Answered((await SendAsync(talk.Next("First question."))).Reply);
        var block = talk.Messages[1]!["content"]![0]!.AsObject();
        switch (forgery)
        {
            case "random":
                block["signature"] = Convert.ToBase64String(new byte[160]);
                break;
            case "other-simulator":
                await using (var other = await FakeAnthropicServer.StartAsync())
                {
                    other.PreservedThinking = new PreservedThinkingSimulator();
                    using var otherHttp = new HttpClient { BaseAddress = other.BaseUrl };
                    var (_, otherReply) = await SendAsync(new Conversation(Opus55).Next("First question."), otherHttp);
                    block["signature"] = otherReply["content"]![0]!["signature"]!.GetValue<string>();
                }

                break;
            case "changed-thinking-text":
                block["thinking"] = "I reasoned carefully.";
                break;
            case "not-base64":
                block["signature"] = "not a signature!";
                break;
            default:
                block.Remove("signature");
                break;
        }

        foreach (var thinking in new[] { null, DropBlock })
        {
            var body = talk.Next("Second question.");
            if (thinking is not null)
            {
                body["thinking"] = JsonNode.Parse(thinking);
            }

            var (status, reply) = await SendAsync(body);

            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("messages.1.content.0: Invalid `signature` in `thinking` block.", reply["error"]!["message"]!.GetValue<string>());
            talk.Messages.RemoveAt(talk.Messages.Count - 1);
        }
    }

    [Fact]
    public async Task Streaming_carries_the_block_first_and_input_transformations_in_message_start()
    {
        Server.PreservedThinking = Simulator;
        var talk = new Conversation(Opus55);
        var first = talk.Next("First question.");
        first["stream"] = true;
        var (status, events) = await StreamAsync(first);
        Assert.Equal(HttpStatusCode.OK, status);
        talk.Answered(Assemble(events));

        talk.Model = "claude-haiku-5-5";
        var second = talk.Next("Second question.");
        second["stream"] = true;
        (status, events) = await StreamAsync(second);

        Assert.Equal(HttpStatusCode.OK, status);
        var start = events.First(e => e.Name == "message_start").Data["message"]!;
        var entry = Assert.Single(start["input_transformations"]!.AsArray());
        Assert.Equal("messages.1.content.0", entry!["path"]!.GetValue<string>());
        Assert.Equal("model_binding_mismatch", entry["reason"]!.GetValue<string>());
        Assert.DoesNotContain(events, e => e.Name == "message_delta" && e.Data.AsObject().ContainsKey("input_transformations"));

        // Block 0: start (empty signature), signature_delta, stop; the fixture's text block is now index 1.
        var blocks = events.Where(e => e.Name.StartsWith("content_block_", StringComparison.Ordinal)).ToList();
        Assert.Equal("thinking", blocks[0].Data["content_block"]!["type"]!.GetValue<string>());
        Assert.Equal(0, blocks[0].Data["index"]!.GetValue<int>());
        Assert.Equal("signature_delta", blocks[1].Data["delta"]!["type"]!.GetValue<string>());
        Assert.Equal("claude-haiku-5-5", Simulator.ProducerOf(blocks[1].Data["delta"]!["signature"]!.GetValue<string>()));
        Assert.Equal("content_block_stop", blocks[2].Name);
        Assert.Equal(0, blocks[2].Data["index"]!.GetValue<int>());
        Assert.All(blocks.Skip(3), b => Assert.Equal(1, b.Data["index"]!.GetValue<int>()));
        Assert.Equal("text", blocks[3].Data["content_block"]!["type"]!.GetValue<string>());
        Assert.Equal("message_stop", events[^1].Name);
    }

    [Fact]
    public async Task A_streamed_request_with_a_changed_prefix_gets_the_400_before_any_event()
    {
        Server.PreservedThinking = Simulator;
        var talk = await ThreeTurnsAsync("claude-sonnet-5-5");
        var body = talk.Next("Fourth question.");
        body["stream"] = true;
        body["system"] = "A different system prompt.";

        var (status, reply) = await SendAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("bound to a different conversation", reply["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_semantics_count_and_cache_control_does_not()
    {
        Server.PreservedThinking = Simulator;
        var talk = await ThreeTurnsAsync(Opus55);
        var body = talk.Next("Fourth question.");

        // Same content, other JSON: member order and escapes, a string system as one text block, breakpoints moved.
        var system = body["system"]!.GetValue<string>();
        body["system"] = JsonNode.Parse($$"""[{"cache_control":{"type":"ephemeral"},"text":{{JsonSerializer.Serialize(system)}},"type":"text"}]""");
        body["tools"]![0]!["cache_control"] = JsonNode.Parse("""{"type":"ephemeral","ttl":"1h"}""");
        body["tools"]![0]!["input_schema"] = JsonNode.Parse("""{"properties":{"id":{"type":"string"}},"type":"object"}""");
        body["messages"]![2]!["content"] = JsonNode.Parse("""[{"type":"text","text":"Question 2.","cache_control":{"type":"ephemeral"}}]""");
        var text = body.ToJsonString(new JsonSerializerOptions { WriteIndented = true })
            .Replace("Question 2.", "Question \\u0032.", StringComparison.Ordinal); // the same string, escaped
        using var http = NewRawClient();
        using var response = await http.SendAsync(WireRequests.Messages(text));
        var status = response.StatusCode;
        var reply = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Empty(reply["input_transformations"]!.AsArray());
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task The_undocumented_choices_can_be_made_strict(bool ignoreCacheControl, bool normalizeShorthand)
    {
        Server.PreservedThinking = new PreservedThinkingSimulator { IgnoreCacheControl = ignoreCacheControl, NormalizeShorthand = normalizeShorthand };
        var talk = await ThreeTurnsAsync(Opus55);

        var changed = talk.Next("Fourth question.");
        changed["messages"]![0]!["content"] = ignoreCacheControl
            ? JsonNode.Parse("""[{"type":"text","text":"Question 1."}]""")
            : JsonNode.Parse("""[{"type":"text","text":"Question 1.","cache_control":{"type":"ephemeral"}}]""");
        var (status, reply) = await SendAsync(changed);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("messages.1.content.0: ", reply["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        talk.Messages.RemoveAt(talk.Messages.Count - 1);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(talk.Next("Fourth question."))).Status);
    }

    [Fact]
    public async Task Count_tokens_runs_the_same_check()
    {
        Server.PreservedThinking = Simulator;
        var talk = await ThreeTurnsAsync(Opus55);
        var body = talk.Next("Fourth question.");
        body.Remove("max_tokens");
        body["system"] = "Another system prompt.";

        using var http = NewRawClient();
        using var response = await http.SendAsync(WireRequests.Messages(body.ToJsonString(), path: "v1/messages/count_tokens"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("bound to a different conversation", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Models_without_preserved_thinking_get_a_block_but_no_check_and_no_input_transformations()
    {
        Server.PreservedThinking = Simulator;
        var talk = await ThreeTurnsAsync("claude-opus-5");
        talk.Messages[1]!["content"]![0]!["signature"] = "forged";
        var body = talk.Next("Fourth question.");
        body["system"] = "Changed.";

        var (status, reply) = await SendAsync(body);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(reply.AsObject().ContainsKey("input_transformations"));
        Assert.Equal("thinking", reply["content"]![0]!["type"]!.GetValue<string>());

        // Claude 4.5 without thinking answers without a block; with thinking disabled no model thinks.
        var (_, old) = await SendAsync(new Conversation("claude-haiku-4-5").Next("Hi."));
        Assert.Equal("text", old["content"]![0]!["type"]!.GetValue<string>());
        var quiet = new Conversation("claude-sonnet-5").Next("Hi.");
        quiet["thinking"] = JsonNode.Parse("""{"type":"disabled"}""");
        var (_, disabled) = await SendAsync(quiet);
        Assert.Equal("text", disabled["content"]![0]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Simulator_off_keeps_the_old_behaviour()
    {
        Assert.Null(Server.PreservedThinking);
        var talk = new Conversation(Opus55);
        var (status, reply) = await SendAsync(talk.Next("First question."));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(JsonNode.Parse(SharedFixtures.Read(FakeReply.DefaultMessageFixture))!["content"]!.ToJsonString(), reply["content"]!.ToJsonString());
        Assert.False(reply.AsObject().ContainsKey("input_transformations"));

        // Anything goes back: a forged block under a changed prefix.
        talk.Answered(reply);
        talk.Messages[1]!["content"]!.AsArray().Insert(0, JsonNode.Parse("""{"type":"thinking","thinking":"","signature":"forged"}"""));
        var body = talk.Next("Second question.");
        body["system"] = "Changed.";
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(body)).Status);

        var stream = new Conversation(Opus55).Next("Streamed.");
        stream["stream"] = true;
        var (_, events) = await StreamAsync(stream);
        var expected = SseEventNames(SharedFixtures.Read(FakeReply.DefaultStreamFixture));
        Assert.Equal(expected, events.Select(e => e.Name));
        Assert.False(events[0].Data["message"]!.AsObject().ContainsKey("input_transformations"));
    }

    private async Task<Conversation> ThreeTurnsAsync(string model)
    {
        var talk = new Conversation(model);
        for (var turn = 1; turn <= 3; turn++)
        {
            var (status, reply) = await SendAsync(talk.Next($"Question {turn}."));
            Assert.Equal(HttpStatusCode.OK, status);
            talk.Answered(reply);
        }

        return talk;
    }

    private static void Edit(JsonObject body, string edit)
    {
        switch (edit)
        {
            case "system":
                body["system"] = body["system"]!.GetValue<string>() + " Today is Tuesday.";
                break;
            case "tool":
                body["tools"]![0]!["description"] = "Looks a record up by id.";
                break;
            case "first-user-message":
                body["messages"]![0]!["content"] = "Question 1, rephrased.";
                break;
            case "assistant-text":
                body["messages"]![1]!["content"]![1]!["text"] = "A shorter answer.";
                break;
            case "thinking-removed-before":
                body["messages"]![1]!["content"]!.AsArray().RemoveAt(0);
                break;
        }
    }

    private async Task<(HttpStatusCode Status, JsonNode Reply)> SendAsync(JsonObject body, HttpClient? http = null)
    {
        using var own = http is null ? NewRawClient() : null;
        using var response = await (http ?? own!).SendAsync(WireRequests.Messages(body.ToJsonString()));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private async Task<(HttpStatusCode Status, List<(string Name, JsonNode Data)> Events)> StreamAsync(JsonObject body)
    {
        using var http = NewRawClient();
        using var response = await http.SendAsync(WireRequests.Messages(body.ToJsonString()));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, ParseEvents(text));
    }

    /// <summary>The events of an SSE body (name, parsed data); comment lines (<c>: …</c>) are not events and are skipped.</summary>
    internal static List<(string Name, JsonNode Data)> ParseEvents(string text) =>
        [.. text.Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(block => block.Split('\n').Where(line => !line.StartsWith(':')).ToArray())
            .Where(lines => lines.Length > 0)
            .Select(lines => (
                Name: lines.First(l => l.StartsWith("event:", StringComparison.Ordinal))["event:".Length..].Trim(),
                Data: JsonNode.Parse(lines.First(l => l.StartsWith("data:", StringComparison.Ordinal))["data:".Length..])!))];

    private static List<string> SseEventNames(string fixture) => [.. ParseEvents(fixture).Select(e => e.Name)];

    /// <summary>The Message a stream describes: message_start's message with the content blocks rebuilt from the deltas.</summary>
    internal static JsonObject Assemble(List<(string Name, JsonNode Data)> events)
    {
        var message = events.First(e => e.Name == "message_start").Data["message"]!.DeepClone().AsObject();
        var content = new JsonArray();
        message["content"] = content;
        foreach (var (name, data) in events)
        {
            switch (name)
            {
                case "content_block_start":
                    content.Add(data["content_block"]!.DeepClone());
                    break;
                case "content_block_delta":
                {
                    var block = content[data["index"]!.GetValue<int>()]!;
                    var delta = data["delta"]!;
                    switch (delta["type"]!.GetValue<string>())
                    {
                        case "text_delta":
                            block["text"] = block["text"]!.GetValue<string>() + delta["text"]!.GetValue<string>();
                            break;
                        case "thinking_delta":
                            block["thinking"] = block["thinking"]!.GetValue<string>() + delta["thinking"]!.GetValue<string>();
                            break;
                        case "signature_delta":
                            block["signature"] = delta["signature"]!.GetValue<string>();
                            break;
                    }

                    break;
                }
            }
        }

        return message;
    }

    /// <summary>A conversation that sends back each answer's content exactly as returned (the append-only habits).</summary>
    private sealed class Conversation(string model)
    {
        public string Model { get; set; } = model;

        public JsonArray Messages { get; } = [];

        /// <summary>Appends a user turn and returns the request body (a fresh copy of system, tools and messages).</summary>
        public JsonObject Next(string user)
        {
            Messages.Add(new JsonObject { ["role"] = "user", ["content"] = user });
            return new JsonObject
            {
                ["model"] = Model,
                ["max_tokens"] = 1024,
                ["system"] = "You are a careful assistant for the billing team.",
                ["tools"] = new JsonArray(JsonNode.Parse(Tool)),
                ["messages"] = Messages.DeepClone(),
            };
        }

        public void Answered(JsonNode reply) =>
            Messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = reply["content"]!.DeepClone() });
    }
}
