using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using FakeAnthropic;

namespace ModelMix.IntegrationTests.FakeAnthropicTests;

/// <summary>
/// The fake's per-model request rules (<c>tests/FakeAnthropic/ModelRequestRules.cs</c>): a request that breaks a documented
/// rule of the model it names gets the API's 400 <c>invalid_request_error</c>, before any scripted reply is consumed.
/// </summary>
public sealed class ModelRequestRulesTests : FakeServerTest
{
    private const string ForcedToolUse = "tool_choice: type \"tool\" and \"any\" are not supported for this model.";
    private const string ThinkingDisabled =
        "\"thinking.type.disabled\" is not supported for this model. Use \"thinking.type.adaptive\" and \"output_config.effort\" to control thinking behavior.";
    private const string ThinkingEnabled =
        "\"thinking.type.enabled\" is not supported for this model. Use \"thinking.type.adaptive\" and \"output_config.effort\" to control thinking behavior.";
    private const string Prefill = "This model does not support assistant message prefill. The conversation must end with a user message.";
    private const string InferenceGeo = "inference_geo: This model does not support the inference_geo parameter.";
    private const string BothSampling = "`temperature` and `top_p` cannot both be specified for this model";

    private const string Tool = """{"name":"lookup","input_schema":{"type":"object"}}""";
    private const string Any = """{"tools":[""" + Tool + """],"tool_choice":{"type":"any"}}""";
    private const string Forced = """{"tools":[""" + Tool + """],"tool_choice":{"type":"tool","name":"lookup"}}""";
    private const string Auto = """{"tools":[""" + Tool + """],"tool_choice":{"type":"auto"}}""";
    private const string NoTool = """{"tools":[""" + Tool + """],"tool_choice":{"type":"none"}}""";
    private const string Disabled = """{"thinking":{"type":"disabled"}}""";
    private const string Enabled = """{"max_tokens":4096,"thinking":{"type":"enabled","budget_tokens":2048}}""";
    private const string Adaptive = """{"thinking":{"type":"adaptive"}}""";
    private const string BetweenTools = """{"thinking":{"type":"between_tools"}}""";
    private const string PrefillTurns =
        """{"messages":[{"role":"user","content":"Name a colour."},{"role":"assistant","content":"The colour is"}]}""";

    /// <summary>(model, JSON fragment merged over a minimal valid body, expected status, expected message substring).</summary>
    public static TheoryData<string, string, int, string?> Cases => new()
    {
        // 1. Forced tool use.
        { "claude-opus-5-5", Any, 400, ForcedToolUse },
        { "claude-sonnet-5-5", Forced, 400, ForcedToolUse },
        { "claude-fable-5-1", Any, 400, ForcedToolUse },
        { "claude-mythos-5-1", Forced, 400, ForcedToolUse },
        { "claude-fable-5-2", Any, 400, ForcedToolUse },
        { "claude-mythos-5-2", Forced, 400, ForcedToolUse },
        { "claude-opus-5-5", Auto, 200, null },
        { "claude-fable-5-1", NoTool, 200, null },
        { "claude-haiku-5-5", Any, 200, null },
        { "claude-opus-5", Forced, 200, null },
        { "claude-sonnet-5", Any, 200, null },
        { "claude-haiku-4-5", Forced, 200, null },

        // 2. Thinking: "disabled" where thinking is always on.
        { "claude-opus-5-5", Disabled, 400, ThinkingDisabled },
        { "claude-fable-5", Disabled, 400, ThinkingDisabled },
        { "claude-fable-5-1", Disabled, 400, ThinkingDisabled },
        { "claude-fable-5-2", Disabled, 400, ThinkingDisabled },
        { "claude-mythos-5", Disabled, 400, ThinkingDisabled },
        { "claude-mythos-5-1", Disabled, 400, ThinkingDisabled },
        { "claude-mythos-5-2", Disabled, 400, ThinkingDisabled },
        { "claude-sonnet-5-5", Disabled, 400, "between_tools" },
        { "claude-sonnet-5", Disabled, 200, null },
        { "claude-opus-4-8", Disabled, 200, null },
        { "claude-haiku-4-5", Disabled, 200, null },

        // 2. "disabled" only at effort high or below (Opus 5, Haiku 5.5).
        { "claude-opus-5", """{"thinking":{"type":"disabled"},"output_config":{"effort":"xhigh"}}""", 400, "'xhigh' is not supported when thinking is disabled" },
        { "claude-opus-5", """{"thinking":{"type":"disabled"},"output_config":{"effort":"max"}}""", 400, "'max' is not supported when thinking is disabled" },
        { "claude-haiku-5-5", """{"thinking":{"type":"disabled"},"output_config":{"effort":"max"}}""", 400, "'max' is not supported when thinking is disabled" },
        { "claude-haiku-5-5", """{"thinking":{"type":"disabled"},"output_config":{"effort":"xhigh"}}""", 400, "'xhigh' is not supported when thinking is disabled" },
        { "claude-opus-5", Disabled, 200, null },
        { "claude-opus-5", """{"thinking":{"type":"disabled"},"output_config":{"effort":"high"}}""", 200, null },
        { "claude-haiku-5-5", Disabled, 200, null },
        { "claude-haiku-5-5", """{"thinking":{"type":"disabled"},"output_config":{"effort":"low"}}""", 200, null },
        { "claude-opus-5", """{"output_config":{"effort":"max"}}""", 200, null },

        // 2. Manual extended thinking ("enabled" + budget_tokens) is gone from Claude 4.7 on.
        { "claude-opus-4-7", Enabled, 400, ThinkingEnabled },
        { "claude-opus-4-8", Enabled, 400, ThinkingEnabled },
        { "claude-opus-5", Enabled, 400, ThinkingEnabled },
        { "claude-opus-5-5", Enabled, 400, ThinkingEnabled },
        { "claude-sonnet-5", Enabled, 400, ThinkingEnabled },
        { "claude-sonnet-5-5", Enabled, 400, ThinkingEnabled },
        { "claude-haiku-5-5", Enabled, 400, ThinkingEnabled },
        { "claude-fable-5-2", Enabled, 400, ThinkingEnabled },
        { "claude-mythos-5", Enabled, 400, ThinkingEnabled },
        { "claude-mythos-preview", Enabled, 200, null },
        { "claude-opus-4-6", Enabled, 200, null },
        { "claude-sonnet-4-6", Enabled, 200, null },
        { "claude-haiku-4-5", Enabled, 200, null },
        { "claude-opus-4-5-20251101", Enabled, 200, null },

        // 2. Adaptive thinking is not on the Claude 4.5 models (extended only).
        { "claude-haiku-4-5", Adaptive, 400, "\"thinking.type.adaptive\" is not supported for this model" },
        { "claude-sonnet-4-5-20250929", Adaptive, 400, "\"thinking.type.adaptive\" is not supported for this model" },
        { "claude-opus-4-5", Adaptive, 400, "\"thinking.type.adaptive\" is not supported for this model" },
        { "claude-opus-4-6", Adaptive, 200, null },
        { "claude-opus-5-5", Adaptive, 200, null },
        { "claude-mythos-preview", Adaptive, 200, null },

        // 2. between_tools: Sonnet 5.5 only, at effort low / medium / high.
        { "claude-sonnet-5-5", BetweenTools, 200, null },
        { "claude-sonnet-5-5", """{"thinking":{"type":"between_tools"},"output_config":{"effort":"low"}}""", 200, null },
        { "claude-sonnet-5-5", """{"thinking":{"type":"between_tools"},"output_config":{"effort":"high"}}""", 200, null },
        { "claude-sonnet-5-5", """{"thinking":{"type":"between_tools"},"output_config":{"effort":"xhigh"}}""", 400, "between_tools" },
        { "claude-sonnet-5-5", """{"thinking":{"type":"between_tools"},"output_config":{"effort":"max"}}""", 400, "'max'" },
        { "claude-opus-5-5", BetweenTools, 400, "\"thinking.type.between_tools\" is not supported for this model" },
        { "claude-sonnet-5", BetweenTools, 400, "\"thinking.type.between_tools\" is not supported for this model" },

        // 3. Sampling: non-default values on the 4.7+ models.
        { "claude-opus-4-7", """{"temperature":0.5}""", 400, "`temperature` is deprecated for this model." },
        { "claude-opus-4-8", """{"temperature":0}""", 400, "`temperature` is deprecated" },
        { "claude-fable-5-2", """{"temperature":0.2}""", 400, "`temperature` is deprecated" },
        { "claude-sonnet-5-5", """{"top_p":0.9}""", 400, "`top_p` is deprecated for this model." },
        { "claude-haiku-5-5", """{"top_k":5}""", 400, "`top_k` is deprecated for this model." },
        { "claude-mythos-5-1", """{"temperature":1,"top_k":40}""", 400, "`top_k` is deprecated" },
        { "claude-opus-5-5", """{"temperature":1,"top_p":0.99}""", 400, "`top_p` is deprecated" },
        { "claude-opus-5-5", """{"temperature":1}""", 200, null },
        { "claude-sonnet-5", """{"temperature":1.0}""", 200, null },

        // 3. Sampling: temperature and top_p together.
        { "claude-haiku-4-5", """{"temperature":0.7,"top_p":0.9}""", 400, BothSampling },
        { "claude-sonnet-4-5-20250929", """{"temperature":1,"top_p":0.99}""", 400, BothSampling },
        { "claude-opus-4-6", """{"temperature":0.7,"top_p":0.9}""", 400, BothSampling },
        { "claude-sonnet-4-6", """{"temperature":0.7,"top_p":0.9}""", 400, BothSampling },
        { "claude-haiku-4-5", """{"temperature":0.2}""", 200, null },
        { "claude-haiku-4-5", """{"top_p":0.9}""", 200, null },
        { "claude-sonnet-4-6", """{"temperature":0.7,"top_k":20}""", 200, null },
        { "claude-opus-4-5", """{"temperature":0.7,"top_p":0.9}""", 200, null },

        // 4. Effort levels per model.
        { "claude-haiku-4-5", """{"output_config":{"effort":"low"}}""", 400, "does not support the effort parameter" },
        { "claude-sonnet-4-5", """{"output_config":{"effort":"high"}}""", 400, "does not support the effort parameter" },
        { "claude-opus-4-5", """{"output_config":{"effort":"xhigh"}}""", 400, "'xhigh' is not supported for this model" },
        { "claude-opus-4-5", """{"output_config":{"effort":"max"}}""", 400, "'max' is not supported for this model" },
        { "claude-opus-4-6", """{"output_config":{"effort":"xhigh"}}""", 400, "'xhigh' is not supported for this model" },
        { "claude-sonnet-4-6", """{"output_config":{"effort":"xhigh"}}""", 400, "'xhigh' is not supported for this model" },
        { "claude-mythos-preview", """{"output_config":{"effort":"xhigh"}}""", 400, "'xhigh' is not supported for this model" },
        { "claude-opus-5-5", """{"output_config":{"effort":"ultra"}}""", 400, "output_config.effort: Input should be" },
        { "claude-opus-5-5", """{"output_config":{"effort":3}}""", 400, "output_config.effort: Input should be" },
        { "claude-opus-4-5", """{"output_config":{"effort":"medium"}}""", 200, null },
        { "claude-opus-4-6", """{"output_config":{"effort":"max"}}""", 200, null },
        { "claude-mythos-preview", """{"output_config":{"effort":"max"}}""", 200, null },
        { "claude-opus-5-5", """{"output_config":{"effort":"xhigh"}}""", 200, null },
        { "claude-haiku-4-5", """{"output_config":{"format":{"type":"json_schema","schema":{"type":"object"}}}}""", 200, null },

        // 5. Assistant prefill.
        { "claude-opus-4-6", PrefillTurns, 400, Prefill },
        { "claude-sonnet-4-6", PrefillTurns, 400, Prefill },
        { "claude-opus-4-7", PrefillTurns, 400, Prefill },
        { "claude-opus-5", PrefillTurns, 400, Prefill },
        { "claude-opus-5-5", PrefillTurns, 400, Prefill },
        { "claude-haiku-5-5", PrefillTurns, 400, Prefill },
        { "claude-fable-5-2", PrefillTurns, 400, Prefill },
        { "claude-mythos-5", PrefillTurns, 400, Prefill },
        { "claude-sonnet-4-5", PrefillTurns, 200, null },
        { "claude-haiku-4-5-20251001", PrefillTurns, 200, null },
        { "claude-opus-4-5", PrefillTurns, 200, null },

        // 6. Computer use tool versions.
        { "claude-opus-5-5", Computer("computer_20251124"), 400, "tools.0: \"computer_20251124\" is not supported for this model" },
        { "claude-sonnet-5-5", Computer("computer_20250124"), 400, "\"computer_20250124\" is not supported" },
        { "claude-haiku-5-5", Computer("computer_20250124"), 400, "\"computer_20250124\" is not supported" },
        { "claude-fable-5-2", Computer("computer_20251124"), 400, "\"computer_20251124\" is not supported" },
        { "claude-mythos-5-2", Computer("computer_20251124"), 400, "\"computer_20251124\" is not supported" },
        { "claude-opus-5-5", """{"tools":[{"type":"computer_toolset_20260801"}]}""", 200, null },
        { "claude-opus-5", Computer("computer_20251124"), 200, null },
        { "claude-sonnet-5", Computer("computer_20251124"), 200, null },
        { "claude-sonnet-4-5", Computer("computer_20250124"), 200, null },

        // 7. max_tokens over the model's maximum output.
        { "claude-haiku-4-5", """{"max_tokens":64001}""", 400, "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for claude-haiku-4-5-20251001" },
        { "claude-sonnet-4-5", """{"max_tokens":100000}""", 400, "max_tokens: 100000 > 64000" },
        { "claude-opus-5-5", """{"max_tokens":128001}""", 400, "max_tokens: 128001 > 128000, which is the maximum allowed number of output tokens for claude-opus-5-5" },
        { "claude-sonnet-4-6", """{"max_tokens":200000}""", 400, "max_tokens: 200000 > 128000" },
        { "claude-haiku-4-5", """{"max_tokens":64000}""", 200, null },
        { "claude-opus-5-5", """{"max_tokens":128000}""", 200, null },

        // 8. Fast mode.
        { "claude-sonnet-5-5", """{"speed":"fast"}""", 400, "Fast mode is not supported for this model" },
        { "claude-haiku-5-5", """{"speed":"fast"}""", 400, "Fast mode is not supported for this model" },
        { "claude-opus-4-8", """{"speed":"fast"}""", 400, "Fast mode is not supported for this model" },
        { "claude-opus-5-5", """{"speed":"fast"}""", 200, null },
        { "claude-opus-5", """{"speed":"fast"}""", 200, null },
        { "claude-fable-5-2", """{"speed":"fast"}""", 200, null },
        { "claude-mythos-5-2", """{"speed":"fast"}""", 200, null },
        { "claude-sonnet-5-5", """{"speed":"standard"}""", 200, null },

        // 9. inference_geo on models released before Claude Opus 4.6 (data-residency page; the message is unverified).
        { "claude-haiku-4-5", """{"inference_geo":"us"}""", 400, InferenceGeo },
        { "claude-sonnet-4-5-20250929", """{"inference_geo":"global"}""", 400, InferenceGeo },
        { "claude-opus-4-5", """{"inference_geo":"us"}""", 400, InferenceGeo },
        { "claude-opus-4-1", """{"inference_geo":"us"}""", 400, InferenceGeo },
        { "claude-3-haiku-20240307", """{"inference_geo":"global"}""", 400, InferenceGeo },
        { "claude-opus-4-1", """{"inference_geo":null}""", 200, null },
        { "claude-opus-4-1", """{"temperature":0.5,"top_p":0.9}""", 200, null }, // only its inference_geo rule is judged
        { "claude-opus-4-6", """{"inference_geo":"us"}""", 200, null },
        { "claude-sonnet-4-6", """{"inference_geo":"us"}""", 200, null },
        { "claude-haiku-5-5", """{"inference_geo":"us"}""", 200, null },
        { "claude-opus-5-5", """{"inference_geo":"global"}""", 200, null },

        // Unknown model ids: no rules at all.
        { "claude-imaginary-9", """{"max_tokens":900000,"temperature":0.1,"top_p":0.5,"thinking":{"type":"disabled"},"output_config":{"effort":"max"},"tool_choice":{"type":"any"},"tools":[""" + Tool + """],"speed":"fast"}""", 200, null },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Each_model_answers_its_documented_rules(string model, string fragment, int status, string? message)
    {
        using var http = NewRawClient();
        using var request = WireRequests.Messages(Body(model, fragment));

        using var response = await http.SendAsync(request);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"{(int)response.StatusCode}: {text}");
        if (message is not null)
        {
            Assert.Contains(message, await AssertInvalidRequestAsync(response), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Documented_messages_are_verbatim()
    {
        using var http = NewRawClient();

        Assert.Equal(ThinkingDisabled, await RejectionAsync(http, Body("claude-opus-5-5", Disabled)));
        Assert.Equal(ThinkingEnabled, await RejectionAsync(http, Body("claude-opus-5-5", Enabled)));
        Assert.Equal(ForcedToolUse, await RejectionAsync(http, Body("claude-fable-5-1", Any)));
    }

    [Fact]
    public async Task A_rejected_request_consumes_no_scripted_reply()
    {
        Server.Enqueue(FakeReply.Overloaded());
        using var http = NewRawClient();
        using var rejected = WireRequests.Messages(Body("claude-opus-5-5", Disabled));
        using var valid = WireRequests.Messages(Body("claude-opus-5-5", Adaptive));

        using var first = await http.SendAsync(rejected);
        var pendingAfterRejection = Server.PendingReplies;
        using var second = await http.SendAsync(valid);

        Assert.Equal(HttpStatusCode.BadRequest, first.StatusCode);
        Assert.Equal(ThinkingDisabled, await AssertInvalidRequestAsync(first));
        Assert.Equal(1, pendingAfterRejection);
        Assert.Equal(529, (int)second.StatusCode);
        Assert.Equal(0, Server.PendingReplies);
        Assert.Equal(2, Server.MessageCount);
    }

    [Fact]
    public async Task Switching_the_rules_off_lets_every_request_through()
    {
        Server.EnforceModelRules = false;
        using var http = NewRawClient();
        var rejections = Cases.Where(c => (int)c[2] == 400).ToList();
        Assert.True(rejections.Count > 50);

        foreach (var c in rejections)
        {
            using var request = WireRequests.Messages(Body((string)c[0], (string)c[1]));
            using var response = await http.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{c[0]} {c[1]}: {await response.Content.ReadAsStringAsync()}");
        }

        using var countRequest = WireRequests.Messages(CountBody("claude-opus-5-5", Any), path: "v1/messages/count_tokens");
        using var count = await http.SendAsync(countRequest);
        Assert.Equal(HttpStatusCode.OK, count.StatusCode);
    }

    [Theory]
    [InlineData("claude-opus-5-5", Any, 400)]
    [InlineData("claude-fable-5-1", Forced, 400)]
    [InlineData("claude-mythos-5-2", Any, 400)]
    [InlineData("claude-opus-5-5", Auto, 200)]
    [InlineData("claude-haiku-5-5", Any, 200)]
    [InlineData("claude-opus-5-5", Disabled, 200)] // only forced tool use is checked on count_tokens
    public async Task Count_tokens_applies_the_forced_tool_use_rule(string model, string fragment, int status)
    {
        using var http = NewRawClient();
        using var request = WireRequests.Messages(CountBody(model, fragment), path: "v1/messages/count_tokens");

        using var response = await http.SendAsync(request);

        Assert.Equal(status, (int)response.StatusCode);
        if (status == 400)
        {
            Assert.Equal(ForcedToolUse, await AssertInvalidRequestAsync(response));
        }

        Assert.Equal(0, Server.MessageCount);
    }

    [Fact]
    public async Task Version_2026_10_21_keeps_its_own_sampling_rejection()
    {
        using var http = NewRawClient();
        using var atDefault = WireRequests.Messages(Body("claude-opus-5-5", """{"temperature":1}"""), version: "2026-10-21");

        using var rejected = await http.SendAsync(atDefault);

        Assert.Equal(HttpStatusCode.BadRequest, rejected.StatusCode);
        Assert.Contains("temperature: Extra inputs are not permitted", await AssertInvalidRequestAsync(rejected), StringComparison.Ordinal);

        Server.RejectRemovedSamplingParameters = false;
        using var offRequest = WireRequests.Messages(Body("claude-opus-5-5", """{"temperature":0.3}"""), version: "2026-10-21");
        using var off = await http.SendAsync(offRequest);
        Assert.Equal(HttpStatusCode.OK, off.StatusCode);
    }

    [Fact]
    public async Task Rejections_are_made_before_streaming_starts()
    {
        using var http = NewRawClient();
        using var request = WireRequests.Messages(Body("claude-sonnet-5-5", """{"stream":true,"top_p":0.5}"""));

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("`top_p` is deprecated for this model.", await AssertInvalidRequestAsync(response));
    }

    [Fact]
    public void Every_row_names_a_distinct_model()
    {
        var ids = ModelRequestRules.Table.SelectMany(r => r.DatedIds.Prepend(r.Id)).ToList();

        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.Same(ModelRequestRules.Find("claude-haiku-4-5"), ModelRequestRules.Find("claude-haiku-4-5-20251001"));
        Assert.Null(ModelRequestRules.Find("claude-imaginary-9"));
    }

    private static string Computer(string type) =>
        $$"""{"tools":[{"type":"{{type}}","name":"computer","display_width_px":1024,"display_height_px":768}]}""";

    private static string Body(string model, string fragment)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["max_tokens"] = 1024,
            ["messages"] = JsonNode.Parse("""[{"role":"user","content":"hi"}]"""),
        };
        foreach (var (name, value) in JsonNode.Parse(fragment)!.AsObject())
        {
            body[name] = value?.DeepClone();
        }

        return body.ToJsonString();
    }

    private static string CountBody(string model, string fragment)
    {
        var body = JsonNode.Parse(Body(model, fragment))!.AsObject();
        body.Remove("max_tokens");
        return body.ToJsonString();
    }

    private static async Task<string> RejectionAsync(HttpClient http, string body)
    {
        using var request = WireRequests.Messages(body);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        return await AssertInvalidRequestAsync(response);
    }

    private static async Task<string> AssertInvalidRequestAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = doc.RootElement;
        Assert.Equal(["type", "error", "request_id"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("error", root.GetProperty("type").GetString());
        Assert.Equal("invalid_request_error", root.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(response.Headers.GetValues("request-id").Single(), root.GetProperty("request_id").GetString());
        Assert.StartsWith("req_", root.GetProperty("request_id").GetString(), StringComparison.Ordinal);
        return root.GetProperty("error").GetProperty("message").GetString()!;
    }
}
