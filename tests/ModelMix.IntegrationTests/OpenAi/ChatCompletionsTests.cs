using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using FakeAnthropic;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Pricing;
using OpenAI.Chat;

namespace ModelMix.IntegrationTests.OpenAi;

/// <summary>
/// <c>POST /v1/chat/completions</c> over real HTTP: the official OpenAI .NET client (and raw requests) talk to the proxy,
/// which translates to the Messages API, forwards to FakeAnthropic and records every attempt, priced.
/// </summary>
public sealed class ChatCompletionsTests : IAsyncLifetime
{
    private const string FixtureText = "A model router inspects each request and sends it to the cheapest model that can handle it well, escalating to a stronger model only when needed.";
    private const string StreamText = "Pennies per thousand\u2014\nsmall models carry the load,\nbig ones wait their turn.";

    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task Sdk_text_completion_is_translated_priced_and_recorded()
    {
        var client = ChatWire.Sdk(_harness, "claude-haiku-4-5");

        ChatCompletion completion = await client.CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("What does a model router do?")]);

        Assert.Equal(FixtureText, ChatWire.Text(completion));
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal("claude-haiku-4-5-20251001", completion.Model);
        Assert.StartsWith("msg_", completion.Id, StringComparison.Ordinal);
        Assert.Equal(19, completion.Usage.InputTokenCount);
        Assert.Equal(33, completion.Usage.OutputTokenCount);
        Assert.Equal(52, completion.Usage.TotalTokenCount);

        var forwarded = Assert.Single(_harness.Fake.MessageRequests).Json!;
        var expected = JsonNode.Parse("""
            {"model":"claude-haiku-4-5","max_tokens":4096,"system":[{"type":"text","text":"Be brief."}],
             "messages":[{"role":"user","content":[{"type":"text","text":"What does a model router do?"}]}]}
            """);
        Assert.True(JsonNode.DeepEquals(expected, forwarded), forwarded.ToJsonString());
        Assert.Equal(ProxyHarness.UpstreamKey, _harness.Fake.MessageRequests[0].Headers["x-api-key"]);

        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal(LedgerStatus.Ok, record.Status);
        Assert.Equal("claude-haiku-4-5", record.RequestedModel);
        Assert.Equal("claude-haiku-4-5-20251001", record.ResponseModel);
        Assert.False(record.Streaming);
        Assert.Equal(1, record.Attempt);
        // Haiku 4.5 at $1 / $5 per MTok: 19 * 1 / 1e6 + 33 * 5 / 1e6 = 0.000184.
        Assert.Equal(0.000184m, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task Raw_response_has_the_chat_completion_shape()
    {
        var body = await ChatWire.PostJsonAsync(_harness, """{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal("chat.completion", ChatWire.Str(body["object"]));
        Assert.True(body["created"]!.GetValue<long>() > 1_700_000_000);
        var choice = Assert.Single(body["choices"]!.AsArray())!;
        Assert.Equal(0, choice["index"]!.GetValue<int>());
        Assert.Equal("assistant", ChatWire.Str(choice["message"]!["role"]));
        Assert.Equal(FixtureText, ChatWire.Str(choice["message"]!["content"]));
        Assert.Null(choice["message"]!["tool_calls"]);
        Assert.Equal("stop", ChatWire.Str(choice["finish_reason"]));
        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{"prompt_tokens":19,"completion_tokens":33,"total_tokens":52,"prompt_tokens_details":{"cached_tokens":0}}"""),
            body["usage"]));
    }

    [Fact]
    public async Task Sdk_stream_delivers_the_text_in_order_with_usage()
    {
        var client = ChatWire.Sdk(_harness, "claude-haiku-4-5");
        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        var updates = 0;

        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Write a haiku about cost.")]))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        Assert.Equal(StreamText, text.ToString());
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage);
        Assert.Equal(16, usage.InputTokenCount);
        Assert.Equal(22, usage.OutputTokenCount);
        Assert.True(updates >= 8, $"{updates} updates");
        Assert.True(_harness.Fake.MessageRequests[0].Json!["stream"]!.GetValue<bool>());

        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.True(record.Streaming);
        Assert.Equal(LedgerStatus.Ok, record.Status);
        // Haiku 4.5: 16 * 1 / 1e6 + 22 * 5 / 1e6 = 0.000126.
        Assert.Equal(0.000126m, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task Raw_stream_is_role_chunk_deltas_finish_usage_then_done()
    {
        using var response = await ChatWire.PostAsync(_harness, """{"model":"claude-haiku-4-5","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"haiku"}]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await ChatWire.ReadEventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(data => JsonNode.Parse(data)!).ToList();
        Assert.All(chunks, chunk => Assert.Equal("chat.completion.chunk", ChatWire.Str(chunk["object"])));
        Assert.All(chunks, chunk => Assert.Equal(ChatWire.Str(chunks[0]["id"]), ChatWire.Str(chunk["id"])));
        Assert.All(chunks, chunk => Assert.Equal("claude-haiku-4-5-20251001", ChatWire.Str(chunk["model"])));

        Assert.Equal("assistant", ChatWire.Str(chunks[0]["choices"]![0]!["delta"]!["role"]));
        var contentChunks = chunks.Skip(1).TakeWhile(chunk => chunk["choices"]!.AsArray().Count == 1 && chunk["choices"]![0]!["finish_reason"] is null).ToList();
        Assert.Equal(6, contentChunks.Count);
        Assert.Equal(StreamText, string.Concat(contentChunks.Select(chunk => ChatWire.Str(chunk["choices"]![0]!["delta"]!["content"]))));

        var finish = chunks[^2];
        Assert.Equal("stop", ChatWire.Str(finish["choices"]![0]!["finish_reason"]));
        Assert.Empty(finish["choices"]![0]!["delta"]!.AsObject());
        var usage = chunks[^1];
        Assert.Empty(usage["choices"]!.AsArray());
        Assert.Equal(16, usage["usage"]!["prompt_tokens"]!.GetValue<long>());
        Assert.Equal(22, usage["usage"]!["completion_tokens"]!.GetValue<long>());
        Assert.Equal(38, usage["usage"]!["total_tokens"]!.GetValue<long>());
    }

    [Fact]
    public async Task Stream_without_include_usage_has_no_usage_chunk()
    {
        using var response = await ChatWire.PostAsync(_harness, """{"model":"claude-haiku-4-5","stream":true,"messages":[{"role":"user","content":"haiku"}]}""");

        var events = await ChatWire.ReadEventsAsync(response);

        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(data => JsonNode.Parse(data)!).ToList();
        Assert.All(chunks, chunk => Assert.Single(chunk["choices"]!.AsArray()));
        Assert.All(chunks, chunk => Assert.False(chunk.AsObject().ContainsKey("usage")));
        Assert.Equal("stop", ChatWire.Str(chunks[^1]["choices"]![0]!["finish_reason"]));
        // The ledger still has the usage: it is tapped from the Anthropic events.
        Assert.Equal(22, Assert.Single(await _harness.ReadLedgerAsync()).Usage.OutputTokens);
    }

    [Fact]
    public async Task Tool_use_becomes_tool_calls_and_tools_are_translated()
    {
        _harness.Fake.Enqueue(FakeReply.Message("messages/response-tool-use.json"));
        var client = ChatWire.Sdk(_harness, "claude-sonnet-4-5");
        var weather = ChatTool.CreateFunctionTool(
            "get_weather",
            "Current weather for a city.",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"]}"""));
        var options = new ChatCompletionOptions { Tools = { weather }, ToolChoice = ChatToolChoice.CreateRequiredChoice(), MaxOutputTokenCount = 512 };

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Is it warm enough in Paris for the linen jacket?")], options);

        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        Assert.Equal("I'll check today's weather in Paris before recommending the jacket.", ChatWire.Text(completion));
        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal("toolu_01VbN3xQkT8mWc5ZrHp7LdYe", call.Id);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"city":"Paris","unit":"celsius"}"""), JsonNode.Parse(call.FunctionArguments.ToString())));

        var forwarded = Assert.Single(_harness.Fake.MessageRequests).Json!;
        Assert.Equal(512, forwarded["max_tokens"]!.GetValue<long>());
        var tool = Assert.Single(forwarded["tools"]!.AsArray())!;
        Assert.Equal("get_weather", ChatWire.Str(tool["name"]));
        Assert.Equal("Current weather for a city.", ChatWire.Str(tool["description"]));
        Assert.Equal("object", ChatWire.Str(tool["input_schema"]!["type"]));
        Assert.Equal("city", ChatWire.Str(tool["input_schema"]!["required"]![0]));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"type":"any"}"""), forwarded["tool_choice"]));
    }

    [Fact]
    public async Task Streamed_tool_use_becomes_tool_call_deltas()
    {
        _harness.Fake.Enqueue(FakeReply.Stream("streaming/tool-use.sse"));
        using var response = await ChatWire.PostAsync(_harness, """
            {"model":"claude-sonnet-4-5","stream":true,"stream_options":{"include_usage":true},
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
             "messages":[{"role":"user","content":"Weather in Paris?"}]}
            """);

        var events = await ChatWire.ReadEventsAsync(response);

        Assert.Equal("[DONE]", events[^1]);
        var deltas = events[..^1].Select(data => JsonNode.Parse(data)!).Where(chunk => chunk["choices"]!.AsArray().Count == 1).Select(chunk => chunk["choices"]![0]!).ToList();
        var toolDeltas = deltas.Where(choice => choice["delta"]!["tool_calls"] is not null).Select(choice => choice["delta"]!["tool_calls"]![0]!).ToList();
        var start = toolDeltas[0];
        Assert.Equal(0, start["index"]!.GetValue<int>());
        Assert.StartsWith("toolu_", ChatWire.Str(start["id"]), StringComparison.Ordinal);
        Assert.Equal("function", ChatWire.Str(start["type"]));
        Assert.Equal("get_weather", ChatWire.Str(start["function"]!["name"]));
        Assert.All(toolDeltas.Skip(1), fragment => Assert.Null(fragment["id"]));
        Assert.All(toolDeltas, fragment => Assert.Equal(0, fragment["index"]!.GetValue<int>()));
        var arguments = string.Concat(toolDeltas.Select(fragment => ChatWire.Str(fragment["function"]!["arguments"])));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"city":"Paris","unit":"celsius"}"""), JsonNode.Parse(arguments)), arguments);
        Assert.Equal("tool_calls", ChatWire.Str(deltas[^1]["finish_reason"]));
        var usage = JsonNode.Parse(events[^2])!["usage"]!;
        // Warm cache: 29 input + 5,562 cache reads = 5,591 prompt tokens, 5,562 of them cached.
        Assert.Equal(5591, usage["prompt_tokens"]!.GetValue<long>());
        Assert.Equal(5562, usage["prompt_tokens_details"]!["cached_tokens"]!.GetValue<long>());
        Assert.Equal(87, usage["completion_tokens"]!.GetValue<long>());
    }

    [Fact]
    public async Task Sdk_streamed_tool_call_is_assembled_by_the_client()
    {
        _harness.Fake.Enqueue(FakeReply.Stream("streaming/tool-use.sse"));
        var client = ChatWire.Sdk(_harness, "claude-sonnet-4-5");
        var options = new ChatCompletionOptions { Tools = { ChatTool.CreateFunctionTool("get_weather", "Weather.", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}}}""")) } };
        string? id = null, name = null;
        var arguments = new StringBuilder();
        ChatFinishReason? finish = null;

        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Weather in Paris?")], options))
        {
            foreach (var call in update.ToolCallUpdates)
            {
                id ??= call.ToolCallId;
                name ??= call.FunctionName;
                arguments.Append(call.FunctionArgumentsUpdate?.ToString());
            }

            finish ??= update.FinishReason;
        }

        Assert.StartsWith("toolu_", id, StringComparison.Ordinal);
        Assert.Equal("get_weather", name);
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"city":"Paris","unit":"celsius"}"""), JsonNode.Parse(arguments.ToString())));
    }

    [Fact]
    public async Task Tool_result_turn_is_translated_into_merged_anthropic_turns()
    {
        const string body = """
            {"model":"claude-sonnet-4-5","max_completion_tokens":300,"stop":["\n\nEND", "  "],
             "messages":[
               {"role":"system","content":"You are a stylist."},
               {"role":"developer","content":[{"type":"text","text":"Use metric units."}]},
               {"role":"user","content":"Is it warm enough in Paris and Rome?"},
               {"role":"assistant","content":"Checking both.","tool_calls":[
                 {"id":"call_paris","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                 {"id":"call_rome","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
               {"role":"tool","tool_call_id":"call_paris","content":"14 C, light rain"},
               {"role":"tool","tool_call_id":"call_rome","content":[{"type":"text","text":"22 C"},{"type":"text","text":"sunny"}]},
               {"role":"user","content":[{"type":"text","text":"And the jacket?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}
             ]}
            """;

        await ChatWire.PostJsonAsync(_harness, body);

        var forwarded = Assert.Single(_harness.Fake.MessageRequests).Json!;
        var expected = JsonNode.Parse("""
            {"model":"claude-sonnet-4-5","max_tokens":300,
             "system":[{"type":"text","text":"You are a stylist."},{"type":"text","text":"Use metric units."}],
             "messages":[
               {"role":"user","content":[{"type":"text","text":"Is it warm enough in Paris and Rome?"}]},
               {"role":"assistant","content":[
                 {"type":"text","text":"Checking both."},
                 {"type":"tool_use","id":"call_paris","name":"get_weather","input":{"city":"Paris"}},
                 {"type":"tool_use","id":"call_rome","name":"get_weather","input":{"city":"Rome"}}]},
               {"role":"user","content":[
                 {"type":"tool_result","tool_use_id":"call_paris","content":"14 C, light rain"},
                 {"type":"tool_result","tool_use_id":"call_rome","content":[{"type":"text","text":"22 C"},{"type":"text","text":"sunny"}]},
                 {"type":"text","text":"And the jacket?"},
                 {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}
             ],
             "stop_sequences":["\n\nEND"]}
            """);
        Assert.True(JsonNode.DeepEquals(expected, forwarded), forwarded.ToJsonString());
    }

    [Fact]
    public async Task Parameters_are_mapped_to_the_messages_api()
    {
        // Claude Opus 4.5: the model with no documented restriction on temperature and top_p together (Claude Haiku 4.5
        // answers both in one request with a 400, which FakeAnthropic enforces), so every mapped field reaches the upstream.
        const string body = """
            {"model":"claude-opus-4-5","max_tokens":99,"temperature":1.6,"top_p":0.9,"user":"u-42","parallel_tool_calls":false,
             "tools":[{"type":"function","function":{"name":"lookup"}}],"tool_choice":{"type":"function","function":{"name":"lookup"}},
             "response_format":{"type":"json_schema","json_schema":{"name":"answer","strict":true,"schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}}},
             "frequency_penalty":0.5,"seed":7,"logprobs":false,"messages":[{"role":"user","content":"hi"}]}
            """;

        await ChatWire.PostJsonAsync(_harness, body);

        var forwarded = Assert.Single(_harness.Fake.MessageRequests).Json!.AsObject();
        Assert.Equal(99, forwarded["max_tokens"]!.GetValue<long>());
        Assert.Equal(1.0, forwarded["temperature"]!.GetValue<double>());
        Assert.Equal(0.9, forwarded["top_p"]!.GetValue<double>());
        Assert.Equal("u-42", ChatWire.Str(forwarded["metadata"]!["user_id"]));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"type":"tool","name":"lookup","disable_parallel_tool_use":true}"""), forwarded["tool_choice"]));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"type":"object","properties":{}}"""), forwarded["tools"]![0]!["input_schema"]));
        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{"format":{"type":"json_schema","schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}}}"""),
            forwarded["output_config"]));
        foreach (var ignored in (string[])["frequency_penalty", "seed", "logprobs", "response_format", "parallel_tool_calls", "user", "max_completion_tokens"])
        {
            Assert.False(forwarded.ContainsKey(ignored), ignored);
        }
    }

    [Theory]
    [InlineData("auto", """{"type":"auto"}""")]
    [InlineData("none", """{"type":"none"}""")]
    [InlineData("required", """{"type":"any"}""")]
    public async Task Tool_choice_modes_are_mapped(string mode, string expected)
    {
        const string tools = """ "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"messages":[{"role":"user","content":"hi"}]}""";
        await ChatWire.PostJsonAsync(_harness, "{\"model\":\"claude-haiku-4-5\",\"tool_choice\":\"" + mode + "\"," + tools);

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), _harness.Fake.MessageRequests[0].Json!["tool_choice"]));
    }

    [Fact]
    public async Task Json_object_mode_becomes_a_system_instruction()
    {
        await ChatWire.PostJsonAsync(_harness, """{"model":"claude-haiku-4-5","response_format":{"type":"json_object"},"messages":[{"role":"system","content":"Extract fields."},{"role":"user","content":"Ann, 31"}]}""");

        var system = _harness.Fake.MessageRequests[0].Json!["system"]!.AsArray();
        Assert.Equal(2, system.Count);
        Assert.Equal("Extract fields.", ChatWire.Str(system[0]!["text"]));
        Assert.Contains("JSON object", ChatWire.Str(system[1]!["text"]), StringComparison.Ordinal);
        Assert.False(_harness.Fake.MessageRequests[0].Json!.AsObject().ContainsKey("output_config"));
    }

    [Fact]
    public async Task Sampling_parameters_are_dropped_for_anthropic_version_2026_10_21()
    {
        var body = await ChatWire.PostJsonAsync(_harness, """{"model":"claude-haiku-4-5","temperature":0.2,"top_p":0.5,"messages":[{"role":"user","content":"hi"}]}""", anthropicVersion: "2026-10-21");

        Assert.Equal(FixtureText, ChatWire.Str(body["choices"]![0]!["message"]!["content"]));
        var forwarded = Assert.Single(_harness.Fake.MessageRequests);
        Assert.Equal("2026-10-21", forwarded.Headers["anthropic-version"]);
        Assert.False(forwarded.Json!.AsObject().ContainsKey("temperature"));
        Assert.False(forwarded.Json!.AsObject().ContainsKey("top_p"));
    }

    [Theory]
    [InlineData("messages/response-cache-write.json", 5591, 0, 0.0276765)]
    [InlineData("messages/response-cache-read.json", 5591, 5562, 0.0030606)]
    [InlineData("messages/response-cache-read-partial.json", 5591, 2412, 0.0139281)]
    public async Task Cache_usage_is_restated_in_prompt_tokens_and_priced(string fixture, long prompt, long cached, double cost)
    {
        _harness.Fake.Enqueue(FakeReply.Message(fixture));

        var body = await ChatWire.PostJsonAsync(_harness, """{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Is it warm in Paris?"}]}""");

        var usage = body["usage"]!;
        Assert.Equal(prompt, usage["prompt_tokens"]!.GetValue<long>());
        Assert.Equal(87, usage["completion_tokens"]!.GetValue<long>());
        Assert.Equal(prompt + 87, usage["total_tokens"]!.GetValue<long>());
        Assert.Equal(cached, usage["prompt_tokens_details"]!["cached_tokens"]!.GetValue<long>());
        Assert.Equal("tool_calls", ChatWire.Str(body["choices"]![0]!["finish_reason"]));
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal(cached, record.Usage.CacheReadTokens);
        // Sonnet 4.5: $3 input, $15 output, $3.75 5m write, $6 1h write, $0.30 cache read per MTok.
        Assert.Equal((decimal)cost, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task Max_tokens_stop_is_finish_reason_length()
    {
        _harness.Fake.Enqueue(FakeReply.Message("messages/response-max-tokens.json"));

        var body = await ChatWire.PostJsonAsync(_harness, """{"model":"claude-opus-4-5","max_tokens":64,"messages":[{"role":"user","content":"Explain routing."}]}""");

        Assert.Equal("length", ChatWire.Str(body["choices"]![0]!["finish_reason"]));
    }

    [Fact]
    public async Task Alias_auto_is_routed_and_recorded()
    {
        var haiku = PriceBook.Default.ResolveTier("haiku");

        using var response = await ChatWire.PostAsync(_harness, """{"model":"auto","messages":[{"role":"user","content":"Classify this support ticket as billing, bug or feature request: 'I was charged twice this month.'"}]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(haiku, response.Headers.GetValues("x-modelmix-routed-model").Single());
        Assert.Equal(haiku, ChatWire.Str(Assert.Single(_harness.Fake.MessageRequests).Json!["model"]));
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal("auto", record.RequestedModel);
        Assert.Equal(haiku, record.RoutedModel);
        Assert.NotEqual("passthrough", record.Policy);
        Assert.NotNull(record.Cost);
    }

    [Theory]
    [InlineData("{not json", null, "not valid JSON")]
    [InlineData("[1]", null, "must be a JSON object")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]}""", "model", "model: Field required")]
    [InlineData("""{"model":"claude-haiku-4-5"}""", "messages", "messages: Field required")]
    [InlineData("""{"model":"claude-haiku-4-5","messages":[]}""", "messages", "non-empty")]
    [InlineData("""{"model":"claude-haiku-4-5","messages":[{"role":"system","content":"only system"}]}""", "messages", "at least one user")]
    [InlineData("""{"model":"claude-haiku-4-5","messages":[{"role":"narrator","content":"hi"}]}""", "messages[0].role", "'narrator' is not supported")]
    [InlineData("""{"model":"claude-haiku-4-5","messages":[{"role":"user","content":42}]}""", "messages[0].content", "expected a string")]
    [InlineData("""{"model":"claude-haiku-4-5","messages":[{"role":"user","content":""}]}""", "messages[0].content", "non-empty content")]
    [InlineData("""{"model":"claude-haiku-4-5","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}""", "messages[0].content[0].type", "input_audio")]
    [InlineData("""{"model":"claude-haiku-4-5","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}""", "messages[0].content[0].image_url.url", "base64")]
    [InlineData("""{"model":"claude-haiku-4-5","messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}""", "messages[0].tool_calls[0].function.arguments", "not valid JSON")]
    [InlineData("""{"model":"claude-haiku-4-5","messages":[{"role":"tool","content":"x"}]}""", "messages[0].tool_call_id", "tool_call_id: Field required")]
    [InlineData("""{"model":"claude-haiku-4-5","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}""", "max_tokens", "at least 1")]
    [InlineData("""{"model":"claude-haiku-4-5","n":2,"messages":[{"role":"user","content":"hi"}]}""", "n", "n must be 1")]
    [InlineData("""{"model":"claude-haiku-4-5","stream":"yes","messages":[{"role":"user","content":"hi"}]}""", "stream", "boolean")]
    [InlineData("""{"model":"claude-haiku-4-5","tool_choice":"required","messages":[{"role":"user","content":"hi"}]}""", "tool_choice", "no tools")]
    [InlineData("""{"model":"claude-haiku-4-5","tools":[{"type":"code_interpreter"}],"messages":[{"role":"user","content":"hi"}]}""", "tools[0].type", "function")]
    [InlineData("""{"model":"claude-haiku-4-5","functions":[],"messages":[{"role":"user","content":"hi"}]}""", "functions", "deprecated")]
    [InlineData("""{"model":"claude-haiku-4-5","response_format":{"type":"json_schema"},"messages":[{"role":"user","content":"hi"}]}""", "response_format.json_schema.schema", "Field required")]
    // A top-level field given twice is refused, never read last-wins (issue 20 §10).
    [InlineData("""{"model":"claude-haiku-4-5","stream":false,"messages":[{"role":"user","content":"hi"}],"stream":true}""", "stream", "stream: the field appears more than once")]
    [InlineData("""{"model":"claude-haiku-4-5","max_tokens":10,"max_tokens":100000,"messages":[{"role":"user","content":"hi"}]}""", "max_tokens", "appears more than once")]
    [InlineData("""{"model":"claude-haiku-4-5","max_completion_tokens":10,"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":9000}""", "max_completion_tokens", "appears more than once")]
    [InlineData("""{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}],"model":"claude-opus-4-6"}""", "model", "appears more than once")]
    [InlineData("""{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}],"m\u0065ssages":[]}""", "messages", "appears more than once")]
    public async Task Malformed_request_gets_a_400_in_openai_shape_and_is_not_forwarded(string body, string? param, string expected)
    {
        using var response = await ChatWire.PostAsync(_harness, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ChatWire.ReadErrorAsync(response);
        Assert.Equal("invalid_request_error", ChatWire.Str(error["type"]));
        Assert.Equal(param, ChatWire.Str(error["param"]));
        Assert.Contains(expected, ChatWire.Str(error["message"]), StringComparison.Ordinal);
        Assert.Equal(0, _harness.Fake.MessageCount);
        Assert.Empty(await _harness.ReadLedgerAsync());
    }

    [Fact]
    public async Task Unknown_model_gets_a_400_naming_it()
    {
        // The refusal is ModelMix:UnpricedModels = Refuse; by default a model the catalog cannot price is forwarded and
        // recorded unpriced (Proxy/UnpricedModelTests).
        await _harness.DisposeAsync();
        _harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:UnpricedModels"] = "Refuse");

        using var response = await ChatWire.PostAsync(_harness, """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ChatWire.ReadErrorAsync(response);
        Assert.Equal("invalid_request_error", ChatWire.Str(error["type"]));
        Assert.Contains("'gpt-4o'", ChatWire.Str(error["message"]), StringComparison.Ordinal);
        Assert.Equal(0, _harness.Fake.MessageCount);
    }

    [Fact]
    public async Task Upstream_invalid_request_is_mapped_to_an_openai_400()
    {
        _harness.Fake.Enqueue(FakeReply.Error(400, "invalid_request_error", "max_tokens: 200000 > 64000"));

        // The scripted 400 stands for any upstream invalid_request_error; the request itself stays within Claude Haiku
        // 4.5's 64K max_tokens, else FakeAnthropic's own per-model rule would answer (with its own wording) first.
        using var response = await ChatWire.PostAsync(_harness, """{"model":"claude-haiku-4-5","max_tokens":1000,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ChatWire.ReadErrorAsync(response);
        Assert.Equal("invalid_request_error", ChatWire.Str(error["type"]));
        Assert.Equal("invalid_request_error", ChatWire.Str(error["code"]));
        Assert.Equal("max_tokens: 200000 > 64000", ChatWire.Str(error["message"]));
        Assert.Equal(LedgerStatus.Error, Assert.Single(await _harness.ReadLedgerAsync()).Status);
    }

    [Fact]
    public async Task Persistent_overload_becomes_a_503_server_error_after_the_retries()
    {
        _harness.Fake.SetDefault(FakeReply.Overloaded());

        using var response = await ChatWire.PostAsync(_harness, """{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var error = await ChatWire.ReadErrorAsync(response);
        Assert.Equal("server_error", ChatWire.Str(error["type"]));
        Assert.Equal("overloaded_error", ChatWire.Str(error["code"]));
        var records = await _harness.ReadLedgerAsync();
        Assert.Equal([1, 2, 3], records.Select(record => record.Attempt).Order());
        Assert.All(records, record => Assert.Equal("overloaded_error", record.ErrorType));
    }

    [Fact]
    public async Task Rate_limit_is_retried_and_both_attempts_recorded()
    {
        _harness.Fake.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(1)));

        var body = await ChatWire.PostJsonAsync(_harness, """{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(FixtureText, ChatWire.Str(body["choices"]![0]!["message"]!["content"]));
        var records = await _harness.ReadLedgerAsync();
        Assert.Equal(2, records.Count);
        Assert.Equal("rate_limit_error", records.Single(record => record.Attempt == 1).ErrorType);
        Assert.Equal(0.000184m, records.Single(record => record.Attempt == 2).Cost!.Value.Total); // Haiku 4.5: 19 × $1 / 1e6 + 33 × $5 / 1e6
    }

    [Fact]
    public async Task Stream_cut_mid_way_ends_with_an_error_event_and_no_done()
    {
        _harness.Fake.Enqueue(FakeReply.Stream().WithCutAfterEvents(4));

        using var response = await ChatWire.PostAsync(_harness, """{"model":"claude-haiku-4-5","stream":true,"messages":[{"role":"user","content":"haiku"}]}""");
        var events = await ChatWire.ReadEventsAsync(response);

        Assert.DoesNotContain("[DONE]", events);
        var error = JsonNode.Parse(events[^1])!["error"]!;
        Assert.Equal("server_error", ChatWire.Str(error["type"]));
        Assert.Contains("ended unexpectedly", ChatWire.Str(error["message"]), StringComparison.Ordinal);
        Assert.Equal("assistant", ChatWire.Str(JsonNode.Parse(events[0])!["choices"]![0]!["delta"]!["role"]));
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal("stream_cut", record.ErrorType);
        Assert.True(record.Streaming);
    }

    [Fact]
    public async Task Upstream_error_event_mid_stream_becomes_an_openai_error_event()
    {
        _harness.Fake.Enqueue(FakeReply.Stream("streaming/error-midstream.sse"));

        using var response = await ChatWire.PostAsync(_harness, """{"model":"claude-haiku-4-5","stream":true,"messages":[{"role":"user","content":"haiku"}]}""");
        var events = await ChatWire.ReadEventsAsync(response);

        Assert.DoesNotContain("[DONE]", events);
        var error = JsonNode.Parse(events[^1])!["error"]!;
        Assert.Equal("overloaded_error", ChatWire.Str(error["code"]));
        Assert.Equal("Overloaded", ChatWire.Str(error["message"]));
        Assert.Equal("overloaded_error", Assert.Single(await _harness.ReadLedgerAsync()).ErrorType);
    }
}
