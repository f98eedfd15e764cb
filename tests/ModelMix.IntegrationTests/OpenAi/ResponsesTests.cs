using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using FakeAnthropic;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.OpenAi;

/// <summary>
/// <c>POST /v1/responses</c> (OpenAI's Responses API) over real HTTP against the proxy and FakeAnthropic: the request
/// and answer translations against golden files (<c>OpenAi/Golden</c>), streamed and not; the stateless refusals; errors
/// in OpenAI's shape; and the ledger row of every call, priced.
/// </summary>
public sealed class ResponsesTests : IAsyncLifetime
{
    private const string FixtureText = "A model router inspects each request and sends it to the cheapest model that can handle it well, escalating to a stronger model only when needed.";

    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task Text_request_and_answer_match_their_golden_files_and_are_priced()
    {
        var body = await PostJsonAsync("""{"model":"claude-haiku-4-5","instructions":"Be brief.","input":"What does a model router do?"}""");

        Golden.AssertJson("responses-text.request.json", Forwarded());
        Golden.AssertJson("responses-text.response.json", body);
        Assert.Equal(FixtureText, Str(body["output"]![0]!["content"]![0]!["text"]));
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal(LedgerStatus.Ok, record.Status);
        Assert.Equal("claude-haiku-4-5", record.RequestedModel);
        Assert.False(record.Streaming);
        // Haiku 4.5 at $1 / $5 per MTok: 19 * 1 / 1e6 + 33 * 5 / 1e6 = 0.000184.
        Assert.Equal(0.000184m, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task Multi_part_input_tools_structured_output_and_effort_match_the_golden_request()
    {
        // Claude Opus 4.6 takes low, medium, high and max (docs/models.md): minimal → low.
        var body = await PostJsonAsync("""
            {"model":"claude-opus-4-6","instructions":"You are a travel assistant.","max_output_tokens":512,"temperature":1.5,
             "reasoning":{"effort":"minimal","summary":"auto"},"safety_identifier":"user-42","parallel_tool_calls":false,
             "input":[
               {"role":"developer","content":"Answer in metric units."},
               {"role":"user","content":[{"type":"input_text","text":"What should I wear in Paris?"},
                 {"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo=","detail":"auto"},
                 {"type":"input_image","image_url":"https://example.com/sky.jpg"}]},
               {"type":"message","role":"assistant","id":"msg_earlier","status":"completed","content":[{"type":"output_text","text":"Let me check the weather.","annotations":[]}]},
               {"type":"function_call","id":"fc_1","call_id":"toolu_call1","name":"get_weather","arguments":"{\"city\":\"Paris\"}","status":"completed"},
               {"type":"reasoning","id":"rs_1","summary":[]},
               {"type":"function_call_output","call_id":"toolu_call1","output":"18°C, light rain"},
               {"role":"user","content":"Thanks, and in short?"}],
             "tools":[{"type":"function","name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}],
             "tool_choice":{"type":"function","name":"get_weather"},
             "text":{"format":{"type":"json_schema","name":"outfit","strict":true,"schema":{"type":"object","properties":{"outfit":{"type":"string"}},"required":["outfit"],"additionalProperties":false}}}}
            """);

        Golden.AssertJson("responses-full.request.json", Forwarded());
        Assert.Equal("minimal", Str(body["reasoning"]!["effort"]));
        Assert.Equal("get_weather", Str(body["tools"]![0]!["name"]));
        Assert.Equal("json_schema", Str(body["text"]!["format"]!["type"]));
        Assert.False(body["parallel_tool_calls"]!.GetValue<bool>());
    }

    [Theory]
    [InlineData("claude-opus-4-6", "xhigh", "high")] // levels low, medium, high, max: clamped down to high
    [InlineData("claude-opus-4-6", "max", "max")]
    [InlineData("claude-opus-4-5", "max", "high")] // low, medium, high
    [InlineData("claude-sonnet-4-6", "none", "low")]
    [InlineData("claude-haiku-4-5", "high", null)] // takes no effort parameter: left out
    [InlineData("auto", "medium", "medium")] // an alias: routing sees the caller's effort, as on /v1/messages
    public async Task Reasoning_effort_is_mapped_per_the_model_catalog(string model, string effort, string? expected)
    {
        await PostJsonAsync($$"""{"model":"{{model}}","reasoning":{"effort":"{{effort}}"},"input":"hi"}""");

        var forwarded = Forwarded();
        Assert.Equal(expected, forwarded["output_config"]?["effort"]?.GetValue<string>());
    }

    [Fact]
    public async Task Tool_use_answer_matches_its_golden_file()
    {
        _harness.Fake.Enqueue(FakeReply.Message("messages/response-tool-use.json"));

        var body = await PostJsonAsync("""
            {"model":"claude-sonnet-4-5","input":"Do I need a jacket in Paris?","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string"}}}}]}
            """);

        Golden.AssertJson("responses-tool-use.response.json", body);
        var call = body["output"]![1]!;
        Assert.Equal("function_call", Str(call["type"]));
        Assert.Equal("toolu_01VbN3xQkT8mWc5ZrHp7LdYe", Str(call["call_id"]));
        Assert.Equal("""{"city":"Paris","unit":"celsius"}""", Str(call["arguments"]));
    }

    [Theory]
    [InlineData("messages/response-cache-read.json", 5591, 5562)]
    [InlineData("messages/response-cache-write.json", 5591, 0)]
    public async Task Cache_tokens_are_input_tokens_and_cache_reads_are_cached_tokens(string fixture, long input, long cached)
    {
        _harness.Fake.Enqueue(FakeReply.Message(fixture));

        var body = await PostJsonAsync("""{"model":"claude-sonnet-4-5","input":"hi"}""");

        Assert.Equal(input, body["usage"]!["input_tokens"]!.GetValue<long>());
        Assert.Equal(cached, body["usage"]!["input_tokens_details"]!["cached_tokens"]!.GetValue<long>());
    }

    [Fact]
    public async Task Max_tokens_stop_is_an_incomplete_response()
    {
        _harness.Fake.Enqueue(FakeReply.Message("messages/response-max-tokens.json"));

        var body = await PostJsonAsync("""{"model":"claude-haiku-4-5","max_output_tokens":16,"input":"hi"}""");

        Assert.Equal("incomplete", Str(body["status"]));
        Assert.Equal("max_output_tokens", Str(body["incomplete_details"]!["reason"]));
        Assert.Equal(16, Forwarded()["max_tokens"]!.GetValue<long>());
    }

    [Fact]
    public async Task Text_stream_matches_its_golden_events_and_is_recorded()
    {
        using var response = await PostAsync("""{"model":"claude-haiku-4-5","stream":true,"input":[{"role":"user","content":"Write a haiku about cost."}]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await ReadEventsAsync(response);
        Golden.AssertEvents("responses-text.stream.txt", events);
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e.Data["sequence_number"]!.GetValue<int>()));
        Assert.All(events, e => Assert.Equal(e.Event, Str(e.Data["type"])));
        var completed = events[^1].Data["response"]!;
        Assert.Equal("completed", Str(completed["status"]));
        Assert.Equal(16, completed["usage"]!["input_tokens"]!.GetValue<long>());
        Assert.Equal(22, completed["usage"]!["output_tokens"]!.GetValue<long>());
        Assert.True(Forwarded()["stream"]!.GetValue<bool>());

        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.True(record.Streaming);
        Assert.Equal(LedgerStatus.Ok, record.Status);
        // Haiku 4.5: 16 * 1 / 1e6 + 22 * 5 / 1e6 = 0.000126.
        Assert.Equal(0.000126m, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task Stream_request_matches_its_golden_file()
    {
        using var response = await PostAsync("""{"model":"claude-sonnet-4-6","stream":true,"instructions":"Be brief.","max_output_tokens":200,"reasoning":{"effort":"low"},"input":[{"role":"user","content":[{"type":"input_text","text":"Write a haiku about cost."}]}],"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}],"tool_choice":"auto"}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await response.Content.ReadAsStringAsync();

        Golden.AssertJson("responses-stream.request.json", Forwarded());
    }

    [Fact]
    public async Task A_key_over_its_budget_gets_an_openai_429_and_nothing_is_sent()
    {
        ModelMix.Keys.CreatedApiKey key;
        await using (var keys = new ModelMix.Keys.SqliteKeyStore(_harness.DbPath))
        {
            key = await keys.CreateAsync("responses", [ModelMix.Budgets.BudgetCap.Parse("0.001/day")]);
        }

        // Haiku 4.5 holds its worst case before sending: 1,000 output tokens × $5/MTok = $0.005 alone, over the $0.001 cap.
        using var refused = await PostAsync("""{"model":"claude-haiku-4-5","max_output_tokens":1000,"input":"hi"}""", key.Key);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var error = await ChatWire.ReadErrorAsync(refused);
        Assert.Contains("Budget exceeded", Str(error["message"]), StringComparison.Ordinal);
        Assert.Empty(_harness.Fake.MessageRequests);

        // 16 output tokens × $5/MTok = $0.00008, plus a few input tokens at $1/MTok: under the cap, served and charged.
        using var served = await PostAsync("""{"model":"claude-haiku-4-5","max_output_tokens":16,"input":"hi"}""", key.Key);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        var record = Assert.Single(await _harness.ReadLedgerAsync(), r => r.Status == LedgerStatus.Ok);
        Assert.Equal(key.Info.Id, record.KeyId);
    }

    [Fact]
    public async Task Prompt_caching_puts_its_breakpoints_on_a_long_instructions_prompt_as_on_the_other_endpoints()
    {
        // 90 rules ≈ 1,500 tokens: past Sonnet 4.5's 1,024-token minimum, so the system prompt gets a breakpoint (docs/caching.md).
        var rules = string.Concat(Enumerable.Range(0, 90).Select(i => $"Rule {i}: answer support tickets politely and cite the policy. "));
        await PostJsonAsync($$"""{"model":"claude-sonnet-4-5","instructions":"{{rules}}","input":"What is the refund policy?"}""");

        var system = Forwarded()["system"]!;
        Assert.Equal("ephemeral", Str(system[0]!["cache_control"]!["type"]));
    }

    [Fact]
    public async Task Tool_use_stream_matches_its_golden_events()
    {
        _harness.Fake.Enqueue(FakeReply.Stream("streaming/tool-use.sse"));

        using var response = await PostAsync("""{"model":"claude-sonnet-4-5","stream":true,"input":"Do I need a jacket?","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]}""");
        var events = await ReadEventsAsync(response);

        Golden.AssertEvents("responses-tool-use.stream.txt", events);
        var done = events.Single(e => e.Event == "response.function_call_arguments.done").Data;
        Assert.Equal("""{"city": "Paris", "unit": "celsius"}""", Str(done["arguments"]));
        // Claude Sonnet 4.5 at $3 / $15 per MTok, cache reads at $0.30: 29 * 3 / 1e6 + 5562 * 0.3 / 1e6 + 87 * 15 / 1e6 = 0.000087 + 0.0016686 + 0.001305 = 0.0030606.
        Assert.Equal(0.0030606m, Assert.Single(await _harness.ReadLedgerAsync()).Cost!.Value.Total);
        Assert.Equal(5562, events[^1].Data["response"]!["usage"]!["input_tokens_details"]!["cached_tokens"]!.GetValue<long>());
    }

    [Fact]
    public async Task Upstream_error_mid_stream_becomes_an_error_event_and_response_failed()
    {
        _harness.Fake.Enqueue(FakeReply.Stream("streaming/error-midstream.sse"));

        using var response = await PostAsync("""{"model":"claude-haiku-4-5","stream":true,"input":"haiku"}""");
        var events = await ReadEventsAsync(response);

        Assert.Equal(["error", "response.failed"], events.TakeLast(2).Select(e => e.Event));
        Assert.Equal("overloaded_error", Str(events[^2].Data["code"]));
        Assert.Equal("Overloaded", Str(events[^2].Data["message"]));
        Assert.Equal("failed", Str(events[^1].Data["response"]!["status"]));
        Assert.Equal("Overloaded", Str(events[^1].Data["response"]!["error"]!["message"]));
        Assert.Equal("overloaded_error", Assert.Single(await _harness.ReadLedgerAsync()).ErrorType);
    }

    [Fact]
    public async Task Stream_cut_mid_way_ends_with_response_failed()
    {
        _harness.Fake.Enqueue(FakeReply.Stream().WithCutAfterEvents(4));

        using var response = await PostAsync("""{"model":"claude-haiku-4-5","stream":true,"input":"haiku"}""");
        var events = await ReadEventsAsync(response);

        Assert.Equal("response.failed", events[^1].Event);
        Assert.Contains("ended unexpectedly", Str(events[^2].Data["message"]), StringComparison.Ordinal);
        Assert.DoesNotContain(events, e => e.Event == "response.completed");
        Assert.Equal("stream_cut", Assert.Single(await _harness.ReadLedgerAsync()).ErrorType);
    }

    [Theory]
    [InlineData("""{"model":"claude-haiku-4-5","previous_response_id":"resp_1","input":"hi"}""", "previous_response_id")]
    [InlineData("""{"model":"claude-haiku-4-5","store":true,"input":"hi"}""", "store")]
    [InlineData("""{"model":"claude-haiku-4-5","background":true,"input":"hi"}""", "background")]
    [InlineData("""{"model":"claude-haiku-4-5","conversation":"conv_1","input":"hi"}""", "conversation")]
    [InlineData("""{"model":"claude-haiku-4-5","prompt":{"id":"pmpt_1"},"input":"hi"}""", "prompt")]
    [InlineData("""{"model":"claude-haiku-4-5","input":[{"role":"user","content":"hi"},{"type":"item_reference","id":"msg_1"}]}""", "input[1].type")]
    public async Task Stateful_features_get_a_400_naming_the_limitation(string body, string param)
    {
        using var response = await PostAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ChatWire.ReadErrorAsync(response);
        Assert.Equal("invalid_request_error", Str(error["type"]));
        Assert.Equal(param, Str(error["param"]));
        Assert.Contains("stateless", Str(error["message"]), StringComparison.Ordinal);
        Assert.Equal(Header(response, "x-modelmix-request-id"), Header(response, "x-request-id"));
        Assert.StartsWith("mmx_", Header(response, "x-request-id"), StringComparison.Ordinal);
        Assert.Empty(_harness.Fake.MessageRequests);
        Assert.Empty(await _harness.ReadLedgerAsync());
    }

    [Theory]
    [InlineData("GET", "v1/responses/resp_123")]
    [InlineData("DELETE", "v1/responses/resp_123")]
    [InlineData("POST", "v1/responses/resp_123/cancel")]
    [InlineData("GET", "v1/responses/resp_123/input_items")]
    [InlineData("POST", "v1/responses/input_tokens")]
    public async Task Stored_response_endpoints_get_a_400_naming_the_limitation(string method, string path)
    {
        using var http = _harness.Http();
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ProxyHarness.ClientKey);
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ChatWire.ReadErrorAsync(response);
        Assert.Contains("stateless", Str(error["message"]), StringComparison.Ordinal);
        Assert.Empty(_harness.Fake.MessageRequests);
    }

    [Theory]
    [InlineData("{not json", null, "not valid JSON")]
    [InlineData("""{"input":"hi"}""", "model", "model: Field required")]
    [InlineData("""{"model":"claude-haiku-4-5"}""", "input", "input: Field required")]
    [InlineData("""{"model":"claude-haiku-4-5","input":""}""", "input", "non-empty")]
    [InlineData("""{"model":"claude-haiku-4-5","input":[{"role":"system","content":"only system"}]}""", "input", "at least one user")]
    [InlineData("""{"model":"claude-haiku-4-5","input":[{"role":"tool","content":"x"}]}""", "input[0].role", "'tool' is not supported")]
    [InlineData("""{"model":"claude-haiku-4-5","input":[{"role":"user","content":[{"type":"input_file","file_id":"file_1"}]}]}""", "input[0].content[0].type", "input_file")]
    [InlineData("""{"model":"claude-haiku-4-5","input":[{"role":"user","content":[{"type":"input_image","file_id":"file_1"}]}]}""", "input[0].content[0].file_id", "uploaded files")]
    [InlineData("""{"model":"claude-haiku-4-5","input":[{"type":"function_call","call_id":"c1","name":"f","arguments":"{oops"}]}""", "input[0].arguments", "not valid JSON")]
    [InlineData("""{"model":"claude-haiku-4-5","input":[{"type":"function_call_output","output":"x"}]}""", "input[0].call_id", "Field required")]
    [InlineData("""{"model":"claude-haiku-4-5","input":[{"type":"web_search_call","id":"ws_1"}]}""", "input[0].type", "web_search_call")]
    [InlineData("""{"model":"claude-haiku-4-5","input":"hi","tools":[{"type":"web_search"}]}""", "tools[0].type", "hosted tools")]
    [InlineData("""{"model":"claude-haiku-4-5","input":"hi","tool_choice":"required"}""", "tool_choice", "no tools")]
    [InlineData("""{"model":"claude-haiku-4-5","input":"hi","tool_choice":{"type":"allowed_tools","mode":"auto","tools":[]}}""", "tool_choice.type", "allowed_tools")]
    [InlineData("""{"model":"claude-haiku-4-5","input":"hi","text":{"format":{"type":"json_schema","name":"x"}}}""", "text.format.schema", "Field required")]
    [InlineData("""{"model":"claude-haiku-4-5","input":"hi","reasoning":{"effort":"extreme"}}""", "reasoning.effort", "one of none")]
    [InlineData("""{"model":"claude-haiku-4-5","input":"hi","max_output_tokens":0}""", "max_output_tokens", "at least 1")]
    public async Task Malformed_request_gets_a_400_in_openai_shape_and_is_not_forwarded(string body, string? param, string expected)
    {
        using var response = await PostAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ChatWire.ReadErrorAsync(response);
        Assert.Equal("invalid_request_error", Str(error["type"]));
        Assert.Equal(param, error["param"]?.GetValue<string>());
        Assert.Contains(expected, Str(error["message"]), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(Header(response, "x-request-id")));
        Assert.Empty(_harness.Fake.MessageRequests);
    }

    [Fact]
    public async Task Upstream_rate_limit_after_the_retries_is_an_openai_429()
    {
        _harness.Fake.SetDefault(FakeReply.Error(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"));

        using var response = await PostAsync("""{"model":"claude-haiku-4-5","input":"hi"}""");

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        var error = await ChatWire.ReadErrorAsync(response);
        Assert.Equal("rate_limit_error", Str(error["type"]));
        Assert.Equal("rate_limit_error", Str(error["code"]));
        Assert.NotEmpty(await _harness.ReadLedgerAsync());
    }

    [Fact]
    public async Task Alias_auto_is_routed_and_recorded()
    {
        var body = await PostJsonAsync("""{"model":"auto","input":"What does a model router do?"}""");

        Assert.Equal("completed", Str(body["status"]));
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal("auto", record.RequestedModel);
        Assert.NotEqual("auto", record.RoutedModel);
        Assert.Equal(record.RoutedModel, Forwarded()["model"]!.GetValue<string>());
    }

    private JsonNode Forwarded() => _harness.Fake.MessageRequests[^1].Json!;

    private async Task<HttpResponseMessage> PostAsync(string body, string apiKey = ProxyHarness.ClientKey)
    {
        using var http = _harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/responses") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return await http.SendAsync(request);
    }

    private async Task<JsonObject> PostJsonAsync(string body)
    {
        using var response = await PostAsync(body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"HTTP {(int)response.StatusCode}: {text}");
        Assert.Equal(Header(response, "x-modelmix-request-id"), Header(response, "x-request-id"));
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>The events of a Responses stream: each <c>event:</c> name and its <c>data:</c> JSON.</summary>
    internal static async Task<List<(string Event, JsonNode Data)>> ReadEventsAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Where(block => !block.Split('\n').All(line => line.StartsWith(':'))) // comment blocks (ModelMix's cost trailer), as SSE clients skip them
            .Select(block =>
            {
                var lines = block.Split('\n');
                var name = lines.Single(line => line.StartsWith("event: ", StringComparison.Ordinal))["event: ".Length..];
                var data = lines.Single(line => line.StartsWith("data: ", StringComparison.Ordinal))["data: ".Length..];
                return (name, JsonNode.Parse(data)!);
            })
            .ToList();
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.First() : string.Empty;

    private static string Str(JsonNode? node) => node!.GetValue<string>();
}
