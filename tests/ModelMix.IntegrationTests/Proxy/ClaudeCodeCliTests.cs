using System.Text.Json;
using System.Text.Json.Nodes;
using FakeAnthropic;
using ModelMix.IntegrationTests.Support;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// The real Claude Code CLI (<c>@anthropic-ai/claude-code</c> from npm, pinned in NodeClients/claude-code) works through
/// the proxy unchanged: <c>claude -p</c> with <c>ANTHROPIC_BASE_URL</c> at ModelMix, on Claude Code's default model and
/// on <c>--model auto</c>, a tool loop included. Claude Code streams <c>POST /v1/messages?beta=true</c> with its
/// <c>anthropic-beta</c> list and an <c>x-claude-code-session-id</c> header, which the ledger takes as the session.
/// NodeClients/claude-code/run-claude.mjs runs it with a clean environment, a throwaway HOME and non-essential traffic
/// off, so it reaches no host but the proxy on loopback.
/// </summary>
public sealed class ClaudeCodeCliTests
{
    /// <summary>The model Claude Code 2.1.332 asks for when none is named.</summary>
    private const string DefaultModel = "claude-opus-5-5";

    /// <summary>The answer text of <see cref="FakeReply.DefaultStreamFixture"/>.</summary>
    private const string StreamFixtureText = "Pennies per thousand—\nsmall models carry the load,\nbig ones wait their turn.";

    private const int RunTimeoutSeconds = 30;

    [Fact]
    public async Task Claude_code_print_mode_on_its_default_model_is_forwarded_priced_and_recorded_under_its_session()
    {
        await using var harness = await ProxyHarness.StartAsync();
        harness.Fake.Enqueue(FakeReply.Stream());
        using var work = new TempDirectory();

        var run = await RunClaudeAsync(harness, work.Path, "-p", "Say hi in one short line.", "--output-format", "json");

        Assert.False(run.Output.GetProperty("is_error").GetBoolean(), run.Describe());
        Assert.Equal(StreamFixtureText, run.Output.GetProperty("result").GetString());
        // Claude Code's own session id (a fresh UUID): its x-claude-code-session-id header and metadata.user_id carry it.
        var session = run.Output.GetProperty("session_id").GetString()!;
        Assert.True(Guid.TryParse(session, out _), "session_id is a UUID: " + session);

        var requests = harness.Fake.MessageRequests;
        Assert.NotEmpty(requests);
        Assert.All(requests, request => AssertClaudeCodeRequest(request, session));
        Assert.All(requests, request => Assert.Equal(DefaultModel, request.Json!["model"]!.GetValue<string>()));

        var records = await harness.ReadLedgerAsync();
        Assert.Equal(requests.Count, records.Count);
        Assert.All(records, record =>
        {
            Assert.Equal(LedgerStatus.Ok, record.Status); // claude-opus-5-5 is in the default catalog: priced, not unpriced
            Assert.NotNull(record.Cost);
            Assert.True(record.Cost!.Value.Total > 0m, "a priced call costs more than $0");
            Assert.Equal(session, record.SessionId); // x-claude-code-session-id, as no x-modelmix-session was sent
            Assert.Equal(DefaultModel, record.RequestedModel);
            Assert.Equal(DefaultModel, record.RoutedModel);
            Assert.Equal("passthrough", record.Policy);
            Assert.True(record.Streaming);
        });
    }

    [Fact]
    public async Task Claude_code_with_model_auto_is_routed_by_modelmix()
    {
        await using var harness = await ProxyHarness.StartAsync();
        harness.Fake.Enqueue(FakeReply.Stream());
        using var work = new TempDirectory();
        var session = Guid.NewGuid().ToString();

        var run = await RunClaudeAsync(
            harness, work.Path, "-p", "Say hi in one short line.", "--model", "auto", "--output-format", "json", "--session-id", session);

        Assert.False(run.Output.GetProperty("is_error").GetBoolean(), run.Describe());
        Assert.Equal(StreamFixtureText, run.Output.GetProperty("result").GetString());

        var requests = harness.Fake.MessageRequests;
        Assert.NotEmpty(requests);
        Assert.All(requests, request => AssertClaudeCodeRequest(request, session));
        Assert.All(requests, request => Assert.NotEqual("auto", request.Json!["model"]!.GetValue<string>()));

        var records = await harness.ReadLedgerAsync();
        Assert.Equal(requests.Count, records.Count);
        Assert.All(records, record =>
        {
            Assert.Equal(LedgerStatus.Ok, record.Status);
            Assert.NotNull(record.Cost);
            Assert.Equal(session, record.SessionId);
            Assert.Equal("auto", record.RequestedModel);
            Assert.NotEqual("auto", record.RoutedModel);
            Assert.StartsWith("claude-", record.RoutedModel, StringComparison.Ordinal);
            Assert.False(string.IsNullOrEmpty(record.Policy));
            Assert.NotEqual("passthrough", record.Policy);
        });
        Assert.Equal(requests.Select(r => r.Json!["model"]!.GetValue<string>()), records.Select(r => r.RoutedModel));
    }

    [Fact]
    public async Task Claude_code_runs_a_tool_the_upstream_asks_for_and_sends_the_result_back()
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var work = new TempDirectory();
        using var fixtures = new TempDirectory();
        var marker = "modelmix-marker-" + Guid.NewGuid().ToString("N");
        var notes = Path.Combine(work.Path, "notes.txt");
        await File.WriteAllTextAsync(notes, marker + "\n");
        const string toolUseId = "toolu_01ModelMixClaudeCodeRead1";
        var toolUse = Path.Combine(fixtures.Path, "read-tool-use.sse");
        await File.WriteAllTextAsync(toolUse, ReadToolUseStream(toolUseId, notes));
        harness.Fake.Enqueue(FakeReply.Stream(toolUse)); // an absolute fixture path is read as is
        harness.Fake.Enqueue(FakeReply.Stream());
        var session = Guid.NewGuid().ToString();

        var run = await RunClaudeAsync(
            harness, work.Path, "-p", "What does notes.txt say?", "--output-format", "json", "--session-id", session, "--allowedTools", "Read");

        Assert.False(run.Output.GetProperty("is_error").GetBoolean(), run.Describe());
        Assert.Equal(StreamFixtureText, run.Output.GetProperty("result").GetString());
        Assert.Equal(0, run.Output.GetProperty("permission_denials").GetArrayLength());

        var requests = harness.Fake.MessageRequests;
        Assert.Equal(2, requests.Count);
        Assert.All(requests, request => AssertClaudeCodeRequest(request, session));
        Assert.Contains(requests[0].Json!["tools"]!.AsArray(), tool => tool?["name"]?.GetValue<string>() == "Read");
        var result = ToolResults(requests[1]).SingleOrDefault(block => block["tool_use_id"]?.GetValue<string>() == toolUseId);
        Assert.True(result is not null, "the second request carries no tool_result for " + toolUseId + ":\n" + requests[1].Body[^Math.Min(4000, requests[1].Body.Length)..]);
        Assert.NotEqual(true, result!["is_error"]?.GetValue<bool>());
        Assert.Contains(marker, result["content"]!.ToJsonString(), StringComparison.Ordinal); // Claude Code really read the file

        var records = await harness.ReadLedgerAsync();
        Assert.Equal(2, records.Count);
        Assert.All(records, record =>
        {
            Assert.Equal(LedgerStatus.Ok, record.Status);
            Assert.NotNull(record.Cost);
            Assert.Equal(session, record.SessionId);
        });
        Assert.Equal(2, records.Select(record => record.RequestId).Distinct().Count());
    }

    [Fact]
    public async Task Claude_code_structured_output_with_json_schema_comes_back_through_the_proxy()
    {
        await using var harness = await ProxyHarness.StartAsync();
        Clients.ClientReplies.Install(harness.Fake); // Claude Code's StructuredOutput tool is called with the structured answer
        using var work = new TempDirectory();
        const string Schema = """{"type":"object","properties":{"city":{"type":"string"},"temperature_c":{"type":"number"}},"required":["city","temperature_c"],"additionalProperties":false}""";

        var run = await RunClaudeAsync(harness, work.Path, "-p", "The weather in Paris, as JSON.", "--output-format", "json", "--json-schema", Schema);

        var requests = harness.Fake.MessageRequests;
        var shapes = string.Join("\n", requests.Select(r => $"tool_choice={r.Json!["tool_choice"]?.ToJsonString()} output_config={r.Json!["output_config"]?.ToJsonString()} tools={string.Join(",", (r.Json!["tools"] as JsonArray ?? []).Select(t => t?["name"]?.GetValue<string>()))}"));
        Assert.False(run.Output.GetProperty("is_error").GetBoolean(), run.Describe() + "\n" + shapes);
        Assert.True(run.Output.TryGetProperty("structured_output", out var structured), run.Describe() + "\n" + shapes);
        // Claude Code asks for it with a StructuredOutput tool of its own, which the fake calls (ClientReplies).
        Assert.Contains(requests[0].Json!["tools"]!.AsArray(), tool => tool?["name"]?.GetValue<string>() == "StructuredOutput");
        Assert.Equal("Paris", structured.GetProperty("city").GetString());
        Assert.Equal(18, structured.GetProperty("temperature_c").GetInt32());

        var records = await harness.ReadLedgerAsync();
        Assert.Equal(requests.Count, records.Count);
        Assert.All(records, record => Assert.Equal(LedgerStatus.Ok, record.Status));
    }

    /// <summary>What every Claude Code call looks like once the proxy has forwarded it upstream.</summary>
    private static void AssertClaudeCodeRequest(RecordedRequest request, string session)
    {
        Assert.Equal("?beta=true", request.Query); // the proxy forwards the query string
        Assert.Contains("claude-code-20250219", request.Header("anthropic-beta") ?? "", StringComparison.Ordinal);
        Assert.True(request.Json!["stream"]?.GetValue<bool>(), "Claude Code streams");
        // metadata.user_id is a JSON string holding device_id, account_uuid and the session_id of the header.
        var user = JsonNode.Parse(request.Json!["metadata"]!["user_id"]!.GetValue<string>())!;
        Assert.Equal(session, user["session_id"]!.GetValue<string>());
    }

    private static IEnumerable<JsonObject> ToolResults(RecordedRequest request) =>
        request.Json!["messages"]!.AsArray()
            .Where(message => message?["role"]?.GetValue<string>() == "user" && message["content"] is JsonArray)
            .SelectMany(message => message!["content"]!.AsArray())
            .OfType<JsonObject>()
            .Where(block => block["type"]?.GetValue<string>() == "tool_result");

    /// <summary>A stream that asks for Claude Code's Read tool on <paramref name="path"/> (stop_reason tool_use).</summary>
    private static string ReadToolUseStream(string toolUseId, string path)
    {
        var input = JsonSerializer.Serialize(new { file_path = path });
        string Event(string name, object data) => $"event: {name}\ndata: {JsonSerializer.Serialize(data)}\n\n";
        return string.Concat(
            Event("message_start", new
            {
                type = "message_start",
                message = new
                {
                    model = DefaultModel,
                    id = "msg_01ModelMixClaudeCodeTool",
                    type = "message",
                    role = "assistant",
                    content = Array.Empty<object>(),
                    stop_reason = (string?)null,
                    stop_sequence = (string?)null,
                    usage = new { input_tokens = 120, cache_creation_input_tokens = 0, cache_read_input_tokens = 0, output_tokens = 2, service_tier = "standard" },
                },
            }),
            Event("content_block_start", new { type = "content_block_start", index = 0, content_block = new { type = "text", text = "" } }),
            Event("content_block_delta", new { type = "content_block_delta", index = 0, delta = new { type = "text_delta", text = "I'll read the file." } }),
            Event("content_block_stop", new { type = "content_block_stop", index = 0 }),
            Event("content_block_start", new
            {
                type = "content_block_start",
                index = 1,
                content_block = new { type = "tool_use", id = toolUseId, name = "Read", input = new { } },
            }),
            Event("content_block_delta", new { type = "content_block_delta", index = 1, delta = new { type = "input_json_delta", partial_json = input } }),
            Event("content_block_stop", new { type = "content_block_stop", index = 1 }),
            Event("message_delta", new
            {
                type = "message_delta",
                delta = new { stop_reason = "tool_use", stop_sequence = (string?)null },
                usage = new { output_tokens = 40 },
            }),
            Event("message_stop", new { type = "message_stop" }));
    }

    private static async Task<ClaudeRun> RunClaudeAsync(ProxyHarness harness, string workDir, params string[] arguments)
    {
        var raw = await NodeScript.RunAsync(
            NodeScript.Folder("claude-code"),
            "run-claude.mjs",
            [harness.ProxyUrl.ToString().TrimEnd('/'), workDir, RunTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), .. arguments]);
        var run = new ClaudeRun(raw);
        Assert.False(raw.GetProperty("timedOut").GetBoolean(), $"claude did not finish within {RunTimeoutSeconds} s:\n{run.Describe()}");
        Assert.True(raw.GetProperty("exitCode").ValueKind == JsonValueKind.Number && raw.GetProperty("exitCode").GetInt32() == 0, "claude failed:\n" + run.Describe());
        Assert.True(run.Output.ValueKind == JsonValueKind.Object, "claude printed no JSON result:\n" + run.Describe());
        return run;
    }

    /// <summary>One Claude Code run as run-claude.mjs reports it; <see cref="Output"/> is its <c>--output-format json</c> result.</summary>
    private sealed record ClaudeRun(JsonElement Raw)
    {
        public JsonElement Output => Raw.GetProperty("output");

        public string Describe() =>
            $"exit {Raw.GetProperty("exitCode")}, signal {Raw.GetProperty("signal")}, spawn error {Raw.GetProperty("spawnError")}\n"
            + $"stdout: {Raw.GetProperty("stdout").GetString()}\nstderr: {Raw.GetProperty("stderr").GetString()}";
    }
}
