using System.Buffers;
using System.Text.Json;

namespace ModelMix.Server.OpenAi;

/// <summary>
/// Translates an Anthropic event stream into OpenAI <c>chat.completion.chunk</c> events as the bytes arrive: a role
/// chunk at <c>message_start</c>, a content or tool-call delta per block delta, a chunk with <c>finish_reason</c> at
/// <c>message_delta</c>, then (with <c>stream_options.include_usage</c>) a usage chunk and <c>data: [DONE]</c> at
/// <c>message_stop</c>. An <c>error</c> event becomes <c>data: {"error":{…}}</c>, which ends the stream.
/// </summary>
internal sealed class OpenAiStreamTranslator : IStreamTranslator
{
    private readonly SseEventReader _events = new();
    private readonly Dictionary<long, int> _toolIndexByBlock = [];
    private readonly bool _includeUsage;
    private readonly long _created;
    private string _id = "chatcmpl-modelmix";
    private string _model = string.Empty;
    private long _input;
    private long _cacheWrite;
    private long _cacheRead;
    private long _output;

    public OpenAiStreamTranslator(bool includeUsage, long created)
    {
        _includeUsage = includeUsage;
        _created = created;
    }

    /// <inheritdoc />
    public void Translate(ReadOnlySpan<byte> upstream, IBufferWriter<byte> output) =>
        _events.Feed(upstream, data => OnEvent(data, output));

    /// <inheritdoc />
    public byte[] ErrorEvent(string type, string message) => OpenAiError.StreamEvent(message, "server_error", type);

    private void OnEvent(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        if (data.IsEmpty)
        {
            return;
        }

        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(data);
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException)
        {
            return; // An event the translation cannot read is skipped; the ledger's tap sees the raw bytes.
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            {
                return;
            }

            switch (type.GetString())
            {
                case "message_start" when root.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object:
                    _id = String(message, "id") ?? _id;
                    _model = String(message, "model") ?? _model;
                    if (message.TryGetProperty("usage", out var startUsage) && startUsage.ValueKind == JsonValueKind.Object)
                    {
                        MergeUsage(startUsage);
                    }

                    WriteChunk(output, json =>
                    {
                        json.WriteString("role", "assistant");
                        json.WriteString("content", string.Empty);
                    });
                    break;
                case "content_block_start" when root.TryGetProperty("content_block", out var contentBlock):
                    OnBlockStart(Index(root), contentBlock, output);
                    break;
                case "content_block_delta" when root.TryGetProperty("delta", out var delta):
                    OnBlockDelta(Index(root), delta, output);
                    break;
                case "message_delta":
                    if (root.TryGetProperty("usage", out var deltaUsage) && deltaUsage.ValueKind == JsonValueKind.Object)
                    {
                        MergeUsage(deltaUsage);
                    }

                    var stopReason = root.TryGetProperty("delta", out var messageDelta) ? String(messageDelta, "stop_reason") : null;
                    if (OpenAiResponseTranslator.FinishReason(stopReason) is { } finish)
                    {
                        WriteChunk(output, _ => { }, finish);
                    }

                    break;
                case "message_stop":
                    if (_includeUsage)
                    {
                        WriteUsageChunk(output);
                    }

                    output.Write("data: [DONE]\n\n"u8);
                    break;
                case "error":
                    var (errorType, errorMessage) = root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
                        ? (String(error, "type") ?? "api_error", String(error, "message") ?? "The upstream stream failed.")
                        : ("api_error", "The upstream stream failed.");
                    output.Write(OpenAiError.StreamEvent(errorMessage, OpenAiError.TypeFor(StatusOf(errorType)), errorType));
                    break;
            }
        }
    }

    private void OnBlockStart(long index, JsonElement block, IBufferWriter<byte> output)
    {
        switch (String(block, "type"))
        {
            case "text" when String(block, "text") is { Length: > 0 } text:
                WriteChunk(output, json => json.WriteString("content", text));
                break;
            case "tool_use":
                var toolIndex = _toolIndexByBlock.Count;
                _toolIndexByBlock[index] = toolIndex;
                var id = String(block, "id") ?? string.Empty;
                var name = String(block, "name") ?? string.Empty;
                WriteChunk(output, json =>
                {
                    json.WriteStartArray("tool_calls");
                    json.WriteStartObject();
                    json.WriteNumber("index", toolIndex);
                    json.WriteString("id", id);
                    json.WriteString("type", "function");
                    json.WriteStartObject("function");
                    json.WriteString("name", name);
                    json.WriteString("arguments", string.Empty);
                    json.WriteEndObject();
                    json.WriteEndObject();
                    json.WriteEndArray();
                });
                break;
        }
    }

    private void OnBlockDelta(long index, JsonElement delta, IBufferWriter<byte> output)
    {
        switch (String(delta, "type"))
        {
            case "text_delta" when String(delta, "text") is { Length: > 0 } text:
                WriteChunk(output, json => json.WriteString("content", text));
                break;
            case "input_json_delta" when String(delta, "partial_json") is { Length: > 0 } fragment && _toolIndexByBlock.TryGetValue(index, out var toolIndex):
                WriteChunk(output, json =>
                {
                    json.WriteStartArray("tool_calls");
                    json.WriteStartObject();
                    json.WriteNumber("index", toolIndex);
                    json.WriteStartObject("function");
                    json.WriteString("arguments", fragment);
                    json.WriteEndObject();
                    json.WriteEndObject();
                    json.WriteEndArray();
                });
                break;
        }
    }

    private void WriteChunk(IBufferWriter<byte> output, Action<Utf8JsonWriter> writeDelta, string? finishReason = null)
    {
        output.Write("data: "u8);
        using (var json = new Utf8JsonWriter(output, OpenAiJson.WriterOptions))
        {
            WriteChunkStart(json);
            json.WriteStartArray("choices");
            json.WriteStartObject();
            json.WriteNumber("index", 0);
            json.WriteStartObject("delta");
            writeDelta(json);
            json.WriteEndObject();
            json.WriteNull("logprobs");
            if (finishReason is null)
            {
                json.WriteNull("finish_reason");
            }
            else
            {
                json.WriteString("finish_reason", finishReason);
            }

            json.WriteEndObject();
            json.WriteEndArray();
            if (_includeUsage)
            {
                json.WriteNull("usage");
            }

            json.WriteEndObject();
        }

        output.Write("\n\n"u8);
    }

    private void WriteUsageChunk(IBufferWriter<byte> output)
    {
        output.Write("data: "u8);
        using (var json = new Utf8JsonWriter(output, OpenAiJson.WriterOptions))
        {
            WriteChunkStart(json);
            json.WriteStartArray("choices");
            json.WriteEndArray();
            json.WritePropertyName("usage");
            OpenAiResponseTranslator.WriteUsage(json, _input, _cacheWrite, _cacheRead, _output);
            json.WriteEndObject();
        }

        output.Write("\n\n"u8);
    }

    private void WriteChunkStart(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("id", _id);
        json.WriteString("object", "chat.completion.chunk");
        json.WriteNumber("created", _created);
        json.WriteString("model", _model);
    }

    // message_start carries every count; message_delta's counts are cumulative and override those it names.
    private void MergeUsage(JsonElement usage)
    {
        _input = Override(usage, "input_tokens", _input);
        _cacheWrite = Override(usage, "cache_creation_input_tokens", _cacheWrite);
        _cacheRead = Override(usage, "cache_read_input_tokens", _cacheRead);
        _output = Override(usage, "output_tokens", _output);
    }

    private static long Override(JsonElement usage, string name, long current) =>
        usage.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var count) ? count : current;

    private static long Index(JsonElement root) =>
        root.TryGetProperty("index", out var index) && index.ValueKind == JsonValueKind.Number && index.TryGetInt64(out var value) ? value : -1;

    private static int StatusOf(string anthropicType) => anthropicType switch
    {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        _ => 500,
    };

    private static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
