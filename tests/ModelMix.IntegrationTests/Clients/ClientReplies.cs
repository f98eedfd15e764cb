using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using FakeAnthropic;

namespace ModelMix.IntegrationTests.Clients;

/// <summary>
/// FakeAnthropic's answers for real clients, chosen from each request (<see cref="FakeAnthropicServer.Responder"/>), so
/// clients can run their calls in any order and concurrently: a forced tool (<c>tool_choice</c> <c>tool</c>, how some
/// clients ask for structured output), or Claude Code's <c>StructuredOutput</c> tool before its result is in, gets a call
/// of that tool with <see cref="StructuredJson"/> as input; structured
/// output (<c>output_config.format</c>, or ModelMix's JSON-mode instruction) gets <see cref="StructuredJson"/> as text;
/// a request with tools whose last turn holds no tool result gets a <c>get_weather</c> call (the shared tool-use
/// fixtures); anything else the default text fixtures. Each as a stream when the request streams.
/// </summary>
internal static class ClientReplies
{
    /// <summary>The structured answer every structured-output cell expects (schema: city string, temperature_c number).</summary>
    public const string StructuredJson = """{"city":"Paris","temperature_c":18}""";

    /// <summary>The tool Claude Code's <c>--json-schema</c> adds and tells the model to call with the structured answer.</summary>
    public const string ClaudeCodeStructuredTool = "StructuredOutput";

    private static readonly ConcurrentDictionary<string, (string Message, string Stream)> ForcedToolFixtures = new();

    /// <summary>Sets the responder on <paramref name="fake"/>.</summary>
    public static void Install(FakeAnthropicServer fake) => fake.Responder = Choose;

    /// <summary>The reply for one Messages request.</summary>
    public static FakeReply Choose(JsonObject request)
    {
        var stream = request["stream"] is JsonValue flag && flag.GetValueKind() == System.Text.Json.JsonValueKind.True;
        var forced = request["tool_choice"] is JsonObject choice && (string?)choice["type"] == "tool" ? (string?)choice["name"] : null;
        if (forced is null && request["tools"] is JsonArray offered && offered.Any(t => (string?)t?["name"] == ClaudeCodeStructuredTool) && !LastTurnHasToolResult(request))
        {
            forced = ClaudeCodeStructuredTool; // Claude Code's --json-schema: the model is told to call this tool
        }

        if (forced is { Length: > 0 } tool)
        {
            var (message, events) = ForcedToolFixtures.GetOrAdd(tool, WriteForcedToolFixtures);
            return stream ? FakeReply.Stream(events) : FakeReply.Message(message);
        }

        if (request["output_config"]?["format"] is JsonObject || (request["system"]?.ToJsonString().Contains("single valid JSON object", StringComparison.Ordinal) ?? false))
        {
            return stream ? FakeReply.Stream(Fixture("structured.sse")) : FakeReply.Message(Fixture("structured.json"));
        }

        if (request["tools"] is JsonArray { Count: > 0 } && !LastTurnHasToolResult(request))
        {
            return stream ? FakeReply.Stream("streaming/tool-use.sse") : FakeReply.Message("messages/response-tool-use.json");
        }

        return FakeReply.Default;
    }

    private static bool LastTurnHasToolResult(JsonObject request) =>
        request["messages"] is JsonArray { Count: > 0 } messages
        && messages[^1]?["content"] is JsonArray blocks
        && blocks.Any(block => (string?)block?["type"] == "tool_result");

    /// <summary>The absolute path of a fixture of this folder (FakeAnthropic reads an absolute path as is).</summary>
    public static string Fixture(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "ModelMix.IntegrationTests", "Clients", "Fixtures", name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"tests/ModelMix.IntegrationTests/Clients/Fixtures/{name} not found above {AppContext.BaseDirectory}.");
    }

    /// <summary>A message and a stream calling <paramref name="tool"/> with <see cref="StructuredJson"/>, written to a temporary folder.</summary>
    private static (string Message, string Stream) WriteForcedToolFixtures(string tool)
    {
        var folder = Path.Combine(Path.GetTempPath(), "modelmix-client-fixtures");
        Directory.CreateDirectory(folder);
        var safe = string.Concat(tool.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_'));
        var toolJson = System.Text.Json.JsonSerializer.Serialize(tool);
        var input = System.Text.Json.JsonSerializer.Serialize(StructuredJson);
        var message = Path.Combine(folder, $"forced-{safe}.json");
        File.WriteAllText(message, $$$"""
            {"model":"claude-haiku-4-5-20251001","id":"msg_01FoRcEdToOl00000000000001","type":"message","role":"assistant",
             "content":[{"type":"tool_use","id":"toolu_01FoRcEdToOlCaLl000000001","name":{{{toolJson}}},"input":{{{StructuredJson}}}}],
             "stop_reason":"tool_use","stop_sequence":null,"stop_details":null,
             "usage":{"input_tokens":150,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":20,"service_tier":"standard"}}
            """);
        var events = Path.Combine(folder, $"forced-{safe}.sse");
        File.WriteAllText(events, """
            event: message_start
            data: {"type":"message_start","message":{"model":"claude-haiku-4-5-20251001","id":"msg_01FoRcEdToOlStReAm0000001","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"stop_details":null,"usage":{"input_tokens":150,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1,"service_tier":"standard"}}}

            event: content_block_start
            data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_01FoRcEdToOlCaLl000000001","name":TOOL_JSON,"input":{}}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":INPUT_JSON}}

            event: content_block_stop
            data: {"type":"content_block_stop","index":0}

            event: message_delta
            data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null,"stop_details":null},"usage":{"input_tokens":150,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":20}}

            event: message_stop
            data: {"type":"message_stop"}


            """.Replace("TOOL_JSON", toolJson, StringComparison.Ordinal).Replace("INPUT_JSON", input, StringComparison.Ordinal));
        return (message, events);
    }
}
