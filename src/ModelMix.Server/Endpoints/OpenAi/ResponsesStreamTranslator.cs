using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ModelMix.Server.OpenAi;

/// <summary>
/// Translates an Anthropic event stream into the Responses API's streaming events as the bytes arrive, each
/// <c>event: &lt;type&gt;</c> + <c>data: {"type":…,"sequence_number":n,…}</c>: <c>response.created</c> and
/// <c>response.in_progress</c> at <c>message_start</c>; per text block <c>response.output_item.added</c>,
/// <c>response.content_part.added</c>, <c>response.output_text.delta</c>s, then <c>response.output_text.done</c>,
/// <c>response.content_part.done</c>, <c>response.output_item.done</c>; per <c>tool_use</c> block
/// <c>response.output_item.added</c>, <c>response.function_call_arguments.delta</c>s, <c>…arguments.done</c> and
/// <c>response.output_item.done</c>; at <c>message_stop</c> <c>response.completed</c> (or <c>response.incomplete</c>) with
/// the whole response and its usage. An upstream <c>error</c> event, or a stream the proxy cannot finish, becomes an
/// <c>error</c> event and <c>response.failed</c>. There is no <c>[DONE]</c> in this API.
/// </summary>
internal sealed class ResponsesStreamTranslator : IStreamTranslator
{
    private readonly SseEventReader _events = new();
    private readonly Dictionary<long, ResponseBuilder.OutputItem> _itemByBlock = [];
    private readonly ResponseBuilder _response;
    private long _sequence;
    private bool _finished;

    public ResponsesStreamTranslator(long createdAt, JsonObject echo)
    {
        _response = new ResponseBuilder(createdAt, echo);
    }

    /// <inheritdoc />
    public void Translate(ReadOnlySpan<byte> upstream, IBufferWriter<byte> output) =>
        _events.Feed(upstream, data => OnEvent(data, output));

    /// <inheritdoc />
    public byte[] ErrorEvent(string type, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        Fail(buffer, type, message);
        return buffer.WrittenSpan.ToArray();
    }

    private void OnEvent(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        // An event the translation cannot read is skipped; the ledger's tap sees the raw bytes.
        if (_finished || EventJson(data) is not { } document)
        {
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            switch (ResponsesResponseTranslator.String(root, "type"))
            {
                case "message_start" when root.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object:
                    _response.Start(ResponsesResponseTranslator.String(message, "id"), ResponsesResponseTranslator.String(message, "model"));
                    if (message.TryGetProperty("usage", out var startUsage) && startUsage.ValueKind == JsonValueKind.Object)
                    {
                        _response.MergeUsage(startUsage);
                    }

                    WriteResponseEvent(output, "response.created", "in_progress");
                    WriteResponseEvent(output, "response.in_progress", "in_progress");
                    break;
                case "content_block_start" when root.TryGetProperty("content_block", out var block):
                    OnBlockStart(Index(root), block, output);
                    break;
                case "content_block_delta" when root.TryGetProperty("delta", out var delta) && _itemByBlock.TryGetValue(Index(root), out var item):
                    OnBlockDelta(item, delta, output);
                    break;
                case "content_block_stop" when _itemByBlock.Remove(Index(root), out var stopped):
                    OnBlockStop(stopped, output);
                    break;
                case "message_delta":
                    if (root.TryGetProperty("usage", out var deltaUsage) && deltaUsage.ValueKind == JsonValueKind.Object)
                    {
                        _response.MergeUsage(deltaUsage);
                    }

                    if (root.TryGetProperty("delta", out var messageDelta) && ResponsesResponseTranslator.String(messageDelta, "stop_reason") is { } stopReason)
                    {
                        _response.StopReason = stopReason;
                    }

                    break;
                case "message_stop":
                    var status = _response.FinalStatus;
                    WriteResponseEvent(output, status == "completed" ? "response.completed" : "response.incomplete", status);
                    _finished = true;
                    break;
                case "error":
                    var (errorType, errorMessage) = root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
                        ? (ResponsesResponseTranslator.String(error, "type") ?? "api_error", ResponsesResponseTranslator.String(error, "message") ?? "The upstream stream failed.")
                        : ("api_error", "The upstream stream failed.");
                    Fail(output, errorType, errorMessage);
                    break;
            }
        }
    }

    private void OnBlockStart(long index, JsonElement block, IBufferWriter<byte> output)
    {
        switch (ResponsesResponseTranslator.String(block, "type"))
        {
            case "text":
                _response.AddMessage(string.Empty);
                var message = _response.Items[^1];
                _itemByBlock[index] = message;
                WriteEvent(output, "response.output_item.added", json =>
                {
                    json.WriteNumber("output_index", message.Index);
                    json.WritePropertyName("item");
                    ResponseBuilder.WriteItem(json, message, "in_progress");
                });
                WriteEvent(output, "response.content_part.added", json =>
                {
                    WriteContentPosition(json, message);
                    json.WritePropertyName("part");
                    ResponseBuilder.WriteTextPart(json, string.Empty);
                });
                if (ResponsesResponseTranslator.String(block, "text") is { Length: > 0 } text)
                {
                    AppendText(message, text, output);
                }

                break;
            case "tool_use":
                _response.AddFunctionCall(ResponsesResponseTranslator.String(block, "id") ?? string.Empty, ResponsesResponseTranslator.String(block, "name") ?? string.Empty);
                var call = _response.Items[^1];
                _itemByBlock[index] = call;
                WriteEvent(output, "response.output_item.added", json =>
                {
                    json.WriteNumber("output_index", call.Index);
                    json.WritePropertyName("item");
                    ResponseBuilder.WriteItem(json, call, "in_progress");
                });
                break;
        }
    }

    private void OnBlockDelta(ResponseBuilder.OutputItem item, JsonElement delta, IBufferWriter<byte> output)
    {
        switch (ResponsesResponseTranslator.String(delta, "type"))
        {
            case "text_delta" when item.CallId is null && ResponsesResponseTranslator.String(delta, "text") is { Length: > 0 } text:
                AppendText(item, text, output);
                break;
            case "input_json_delta" when item.CallId is not null && ResponsesResponseTranslator.String(delta, "partial_json") is { Length: > 0 } fragment:
                item.Text.Append(fragment);
                WriteEvent(output, "response.function_call_arguments.delta", json =>
                {
                    json.WriteString("item_id", item.Id);
                    json.WriteNumber("output_index", item.Index);
                    json.WriteString("delta", fragment);
                });
                break;
        }
    }

    private void OnBlockStop(ResponseBuilder.OutputItem item, IBufferWriter<byte> output)
    {
        if (item.CallId is null)
        {
            var text = item.Text.ToString();
            WriteEvent(output, "response.output_text.done", json =>
            {
                WriteContentPosition(json, item);
                json.WriteString("text", text);
                json.WriteStartArray("logprobs");
                json.WriteEndArray();
            });
            WriteEvent(output, "response.content_part.done", json =>
            {
                WriteContentPosition(json, item);
                json.WritePropertyName("part");
                ResponseBuilder.WriteTextPart(json, text);
            });
        }
        else
        {
            WriteEvent(output, "response.function_call_arguments.done", json =>
            {
                json.WriteString("item_id", item.Id);
                json.WriteNumber("output_index", item.Index);
                json.WriteString("name", item.Name);
                json.WriteString("arguments", item.Arguments);
            });
        }

        WriteEvent(output, "response.output_item.done", json =>
        {
            json.WriteNumber("output_index", item.Index);
            json.WritePropertyName("item");
            ResponseBuilder.WriteItem(json, item, "completed");
        });
    }

    private void AppendText(ResponseBuilder.OutputItem message, string text, IBufferWriter<byte> output)
    {
        message.Text.Append(text);
        WriteEvent(output, "response.output_text.delta", json =>
        {
            WriteContentPosition(json, message);
            json.WriteString("delta", text);
            json.WriteStartArray("logprobs");
            json.WriteEndArray();
        });
    }

    /// <summary>Ends the stream: an <c>error</c> event (its <c>code</c> the Anthropic error type), then <c>response.failed</c>.</summary>
    private void Fail(IBufferWriter<byte> output, string type, string message)
    {
        if (_finished)
        {
            return;
        }

        WriteEvent(output, "error", json =>
        {
            json.WriteString("code", type);
            json.WriteString("message", message);
            json.WriteNull("param");
        });
        WriteEvent(output, "response.failed", json =>
        {
            json.WritePropertyName("response");
            _response.Write(json, "failed", type == "rate_limit_error" ? "rate_limit_exceeded" : "server_error", message);
        });
        _finished = true;
    }

    private void WriteResponseEvent(IBufferWriter<byte> output, string type, string status) =>
        WriteEvent(output, type, json =>
        {
            json.WritePropertyName("response");
            _response.Write(json, status);
        });

    private static void WriteContentPosition(Utf8JsonWriter json, ResponseBuilder.OutputItem item)
    {
        json.WriteString("item_id", item.Id);
        json.WriteNumber("output_index", item.Index);
        json.WriteNumber("content_index", 0);
    }

    private void WriteEvent(IBufferWriter<byte> output, string type, Action<Utf8JsonWriter> writeFields)
    {
        output.Write("event: "u8);
        output.Write(Encoding.UTF8.GetBytes(type));
        output.Write("\ndata: "u8);
        using (var json = new Utf8JsonWriter(output, OpenAiJson.WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("type", type);
            json.WriteNumber("sequence_number", _sequence++);
            writeFields(json);
            json.WriteEndObject();
        }

        output.Write("\n\n"u8);
    }

    /// <summary>An event's data as a JSON document, or null when there is none or it is not JSON.</summary>
    private static JsonDocument? EventJson(ReadOnlySpan<byte> data)
    {
        try
        {
            var reader = new Utf8JsonReader(data);
            return data.IsEmpty ? null : JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static long Index(JsonElement root) =>
        root.TryGetProperty("index", out var index) && index.ValueKind == JsonValueKind.Number && index.TryGetInt64(out var value) ? value : -1;
}
