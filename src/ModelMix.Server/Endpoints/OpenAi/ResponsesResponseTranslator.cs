using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ModelMix.Server.OpenAi;

/// <summary>
/// Turns an Anthropic message into an OpenAI Responses API <c>response</c> object: each text block becomes a
/// <c>message</c> output item with one <c>output_text</c> part, each <c>tool_use</c> block a <c>function_call</c> item
/// (<c>call_id</c> = the tool use id), <c>stop_reason</c> the <c>status</c>, and usage is restated in OpenAI's terms
/// (input tokens include cache writes and reads; <c>cached_tokens</c> = cache reads). The stream translation
/// (<see cref="ResponsesStreamTranslator"/>) builds the same object for <c>response.completed</c>.
/// </summary>
internal static class ResponsesResponseTranslator
{
    /// <summary>Translates a 2xx Messages API body; <paramref name="createdAt"/> is the Unix time of the request.</summary>
    public static byte[] Translate(ReadOnlySpan<byte> anthropicMessage, long createdAt, JsonObject echo)
    {
        var reader = new Utf8JsonReader(anthropicMessage);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        var response = new ResponseBuilder(createdAt, echo);
        response.Start(String(root, "id"), String(root, "model"));
        if (root.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
        {
            foreach (var block in content.EnumerateArray())
            {
                switch (String(block, "type"))
                {
                    case "text":
                        response.AddMessage(String(block, "text") ?? string.Empty);
                        break;
                    case "tool_use":
                        response.AddFunctionCall(String(block, "id") ?? string.Empty, String(block, "name") ?? string.Empty)
                            .Append(block.TryGetProperty("input", out var input) ? input.GetRawText() : "{}");
                        break;
                }
            }
        }

        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            response.MergeUsage(usage);
        }

        response.StopReason = String(root, "stop_reason");
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, OpenAiJson.WriterOptions))
        {
            response.Write(json, response.FinalStatus);
        }

        return buffer.ToArray();
    }

    internal static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>
/// One Responses API <c>response</c> as it is built from an Anthropic message (whole, or event by event): its output
/// items, usage and stop reason, and how it is written.
/// </summary>
internal sealed class ResponseBuilder
{
    private readonly long _createdAt;
    private readonly JsonObject _echo;
    private long _input;
    private long _cacheWrite;
    private long _cacheRead;
    private long _output;
    private string _tail = "modelmix";

    public ResponseBuilder(long createdAt, JsonObject echo)
    {
        _createdAt = createdAt;
        _echo = echo;
    }

    /// <summary>The response id: <c>resp_</c> and the Anthropic message id's tail.</summary>
    public string Id { get; private set; } = "resp_modelmix";

    /// <summary>The model that answered.</summary>
    public string Model { get; private set; } = string.Empty;

    /// <summary>The output items so far, in order.</summary>
    public List<OutputItem> Items { get; } = [];

    /// <summary>The Anthropic <c>stop_reason</c>, once known.</summary>
    public string? StopReason { get; set; }

    /// <summary>
    /// The final status for the stop reason: <c>incomplete</c> when the answer hit <c>max_tokens</c> (or the context
    /// window) or was refused, otherwise <c>completed</c>.
    /// </summary>
    public string FinalStatus => IncompleteReason is null ? "completed" : "incomplete";

    private string? IncompleteReason => StopReason switch
    {
        "max_tokens" or "model_context_window_exceeded" => "max_output_tokens",
        "refusal" => "content_filter",
        _ => null,
    };

    /// <summary>Takes the Anthropic message id and model.</summary>
    public void Start(string? messageId, string? model)
    {
        if (messageId is { Length: > 0 })
        {
            _tail = messageId.StartsWith("msg_", StringComparison.Ordinal) ? messageId[4..] : messageId;
            Id = "resp_" + _tail;
        }

        Model = model ?? Model;
    }

    /// <summary>Adds a message item (one <c>output_text</c> part) and returns its text buffer.</summary>
    public StringBuilder AddMessage(string text)
    {
        var item = new OutputItem(Items.Count, $"msg_{_tail}_{Items.Count}", CallId: null, Name: null);
        item.Text.Append(text);
        Items.Add(item);
        return item.Text;
    }

    /// <summary>Adds a function call item for a <c>tool_use</c> block and returns its arguments buffer.</summary>
    public StringBuilder AddFunctionCall(string toolUseId, string name)
    {
        var tail = toolUseId.StartsWith("toolu_", StringComparison.Ordinal) ? toolUseId[6..] : toolUseId;
        var item = new OutputItem(Items.Count, "fc_" + tail, toolUseId, name);
        Items.Add(item);
        return item.Text;
    }

    /// <summary>Merges Anthropic usage: counts it names replace those seen before (message_delta's are cumulative).</summary>
    public void MergeUsage(JsonElement usage)
    {
        _input = Override(usage, "input_tokens", _input);
        _cacheWrite = Override(usage, "cache_creation_input_tokens", _cacheWrite);
        _cacheRead = Override(usage, "cache_read_input_tokens", _cacheRead);
        _output = Override(usage, "output_tokens", _output);
    }

    /// <summary>Writes the <c>response</c> object with <paramref name="status"/>; usage only once the answer is done.</summary>
    public void Write(Utf8JsonWriter json, string status, string? errorCode = null, string? errorMessage = null)
    {
        json.WriteStartObject();
        json.WriteString("id", Id);
        json.WriteString("object", "response");
        json.WriteNumber("created_at", _createdAt);
        json.WriteString("status", status);
        json.WriteBoolean("background", false);
        if (errorMessage is null)
        {
            json.WriteNull("error");
        }
        else
        {
            json.WriteStartObject("error");
            json.WriteString("code", errorCode ?? "server_error");
            json.WriteString("message", errorMessage);
            json.WriteEndObject();
        }

        if (status == "incomplete" && IncompleteReason is { } reason)
        {
            json.WriteStartObject("incomplete_details");
            json.WriteString("reason", reason);
            json.WriteEndObject();
        }
        else
        {
            json.WriteNull("incomplete_details");
        }

        json.WriteString("model", Model);
        json.WriteStartArray("output");
        var done = status is not ("in_progress" or "queued");
        foreach (var item in Items)
        {
            var itemStatus = status switch
            {
                "completed" => "completed",
                "incomplete" when item.Index < Items.Count - 1 => "completed",
                _ when done => "incomplete", // the last item of an incomplete answer, every item of a failed one
                _ => "in_progress",
            };
            WriteItem(json, item, itemStatus);
        }

        json.WriteEndArray();
        foreach (var (name, value) in _echo)
        {
            json.WritePropertyName(name);
            if (value is null)
            {
                json.WriteNullValue();
            }
            else
            {
                value.WriteTo(json);
            }
        }

        if (done)
        {
            json.WritePropertyName("usage");
            WriteUsage(json);
        }
        else
        {
            json.WriteNull("usage");
        }

        json.WriteEndObject();
    }

    /// <summary>Writes one output item as it stands (a message's text so far, a call's arguments so far).</summary>
    public static void WriteItem(Utf8JsonWriter json, OutputItem item, string status)
    {
        json.WriteStartObject();
        json.WriteString("id", item.Id);
        if (item.CallId is null)
        {
            json.WriteString("type", "message");
            json.WriteString("status", status);
            json.WriteString("role", "assistant");
            json.WriteStartArray("content");
            if (status != "in_progress")
            {
                WriteTextPart(json, item.Text.ToString());
            }

            json.WriteEndArray();
        }
        else
        {
            json.WriteString("type", "function_call");
            json.WriteString("status", status);
            json.WriteString("call_id", item.CallId);
            json.WriteString("name", item.Name);
            json.WriteString("arguments", status == "in_progress" ? item.Text.ToString() : item.Arguments);
        }

        json.WriteEndObject();
    }

    /// <summary>Writes an <c>output_text</c> content part.</summary>
    public static void WriteTextPart(Utf8JsonWriter json, string text)
    {
        json.WriteStartObject();
        json.WriteString("type", "output_text");
        json.WriteString("text", text);
        json.WriteStartArray("annotations");
        json.WriteEndArray();
        json.WriteStartArray("logprobs");
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>
    /// Writes Responses usage from the Anthropic counts: <c>input_tokens</c> = input + cache writes + cache reads,
    /// <c>input_tokens_details.cached_tokens</c> = cache reads, <c>output_tokens</c> = output (thinking included: Claude's
    /// usage does not split it out, so <c>reasoning_tokens</c> is 0).
    /// </summary>
    private void WriteUsage(Utf8JsonWriter json)
    {
        var input = _input + _cacheWrite + _cacheRead;
        json.WriteStartObject();
        json.WriteNumber("input_tokens", input);
        json.WriteStartObject("input_tokens_details");
        json.WriteNumber("cached_tokens", _cacheRead);
        json.WriteEndObject();
        json.WriteNumber("output_tokens", _output);
        json.WriteStartObject("output_tokens_details");
        json.WriteNumber("reasoning_tokens", 0);
        json.WriteEndObject();
        json.WriteNumber("total_tokens", input + _output);
        json.WriteEndObject();
    }

    private static long Override(JsonElement usage, string name, long current) =>
        usage.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var count) ? count : current;

    /// <summary>One output item: a message (<see cref="CallId"/> null; <see cref="Text"/> is its text) or a function call (<see cref="Text"/> is its arguments).</summary>
    internal sealed record OutputItem(int Index, string Id, string? CallId, string? Name)
    {
        /// <summary>The message's text, or the call's arguments (JSON text), as received.</summary>
        public StringBuilder Text { get; } = new();

        /// <summary>A finished call's arguments: <c>{}</c> for a call that streamed none.</summary>
        public string Arguments => Text.Length == 0 ? "{}" : Text.ToString();
    }
}
