using System.Text;
using System.Text.Json;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// What the proxy reads from a <c>POST /v1/messages</c> body: the few fields it needs, checked like the API checks
/// them. The body itself is forwarded as it came.
/// </summary>
internal sealed record MessagesRequest(string Model, long MaxTokens, bool Stream, int MessageCount)
{
    /// <summary>What routing needs to know about the request (task label, session and key are added by the caller).</summary>
    public RoutingRequest Features { get; init; }

    /// <summary>The longest model id forwarded without a catalog entry.</summary>
    public const int MaxModelIdLength = 128;

    /// <summary>
    /// Whether a model name the catalog does not know may still be forwarded: 1 to <see cref="MaxModelIdLength"/> ASCII
    /// letters, digits, <c>.</c>, <c>_</c>, <c>-</c> or <c>:</c> (so no URL, host, path or header-breaking character).
    /// </summary>
    public static bool IsForwardableModelId(string model)
    {
        if (model.Length is 0 or > MaxModelIdLength)
        {
            return false;
        }

        foreach (var c in model)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A caller's value shortened for an error message.</summary>
    public static string Clip(string value) => value.Length <= 64 ? value : string.Concat(value.AsSpan(0, 64), "…");

    /// <summary>Reads and checks the body; on failure <paramref name="error"/> says what is wrong in the API's words.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> body, out MessagesRequest? request, out string? error)
    {
        request = null;
        if (body.IsEmpty)
        {
            error = "The request body is empty: expected a JSON object with model, max_tokens and messages.";
            return false;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 128 });
        }
        catch (JsonException exception)
        {
            error = $"The request body is not valid JSON: {exception.Message}";
            return false;
        }

        using (document)
        {
            try
            {
                // The reader accepts an escaped unpaired surrogate ("\ud800") that no string decoder will; only the
                // strings routing reads are decoded, so a body with such an escape anywhere is decoded whole, once.
                if ((body.Span.IndexOf("\\ud"u8) >= 0 || body.Span.IndexOf("\\uD"u8) >= 0) && !AllStringsDecode(document.RootElement))
                {
                    request = null;
                    error = "The request body is not valid JSON: a string contains an unpaired UTF-16 surrogate escape.";
                    return false;
                }

                return Check(document.RootElement, body, out request, out error);
            }
            catch (InvalidOperationException)
            {
                // System.Text.Json refuses to decode an escaped unpaired surrogate ("\ud800") in a string or a
                // property name; the reader accepts it, so it surfaces only when a value or key is read.
                request = null;
                error = "The request body is not valid JSON: a string contains an unpaired UTF-16 surrogate escape.";
                return false;
            }
        }
    }

    private static bool AllStringsDecode(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                element.GetString(); // throws InvalidOperationException on an unpaired surrogate
                return true;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    _ = property.Name;
                    if (!AllStringsDecode(property.Value))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (!AllStringsDecode(item))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return true;
        }
    }

    private static bool Check(JsonElement root, ReadOnlyMemory<byte> body, out MessagesRequest? request, out string? error)
    {
        request = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            error = "The request body must be a JSON object.";
            return false;
        }

        // A top-level field given twice is read here as its last value but edited by the body rewriter as its first,
        // and the upstream may take either: what is routed, held and recorded could differ from what runs (a second
        // "model" bypassing routing, a second "max_tokens" or "stream" escaping the budget hold). Refuse them all.
        if (DuplicateFields.FirstDuplicate(root) is { } duplicate)
        {
            error = $"{Clip(duplicate)}: the field appears more than once";
            return false;
        }

        if (!root.TryGetProperty("model", out var model))
        {
            error = "model: Field required";
            return false;
        }

        var modelName = model.ValueKind == JsonValueKind.String ? model.GetString() : null; // read once: each read is a new string
        if (string.IsNullOrWhiteSpace(modelName))
        {
            error = "model: Input should be a non-empty string";
            return false;
        }

        if (!root.TryGetProperty("max_tokens", out var maxTokens))
        {
            error = "max_tokens: Field required";
            return false;
        }

        if (maxTokens.ValueKind != JsonValueKind.Number || !maxTokens.TryGetInt64(out var maxTokensValue))
        {
            error = "max_tokens: Input should be a valid integer";
            return false;
        }

        if (maxTokensValue < 1)
        {
            error = "max_tokens: Input should be greater than or equal to 1";
            return false;
        }

        if (!root.TryGetProperty("messages", out var messages))
        {
            error = "messages: Field required";
            return false;
        }

        if (messages.ValueKind != JsonValueKind.Array)
        {
            error = "messages: Input should be a valid list";
            return false;
        }

        var stream = false;
        if (root.TryGetProperty("stream", out var streamElement))
        {
            switch (streamElement.ValueKind)
            {
                case JsonValueKind.True:
                    stream = true;
                    break;
                case JsonValueKind.False:
                case JsonValueKind.Null:
                    break;
                default:
                    error = "stream: Input should be a valid boolean";
                    return false;
            }
        }

        request = new MessagesRequest(modelName, maxTokensValue, stream, messages.GetArrayLength())
        {
            Features = ReadFeatures(root, messages, modelName, maxTokensValue, TokenEstimator.EstimateUtf8(body.Span)),
        };
        error = null;
        return true;
    }

    /// <summary>
    /// Reads the routing features: the system prompt and the last user message as keyword text, a token estimate
    /// of the whole body, tools, images, whether the output will be parsed (an output format or a forced tool),
    /// <c>max_tokens</c> and the conversation depth.
    /// </summary>
    private static RoutingRequest ReadFeatures(JsonElement root, JsonElement messages, string model, long maxTokens, long estimatedTokens)
    {
        // Keyword rules judge the newest user turn a person wrote (its text blocks), not the system prompt: an agent's
        // long, fixed system prompt (Claude Code's) would otherwise match the same rule on every request.
        var text = new RoutingText();
        var hasImages = false;
        JsonElement? lastUser = null;
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            if (message.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String && role.ValueEquals("user"u8)
                && message.TryGetProperty("content", out var turn) && HasWrittenText(turn))
            {
                lastUser = message;
            }

            if (!hasImages && message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
            {
                foreach (var block in content.EnumerateArray())
                {
                    if (block.ValueKind == JsonValueKind.Object && block.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.ValueEquals("image"u8))
                    {
                        hasImages = true;
                        break;
                    }
                }
            }
        }

        if (lastUser is { } user && user.TryGetProperty("content", out var userContent))
        {
            AppendText(ref text, userContent);
        }

        var toolCount = root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array ? tools.GetArrayLength() : 0;
        var structured = root.TryGetProperty("output_format", out var outputFormat) && outputFormat.ValueKind == JsonValueKind.Object
            || root.TryGetProperty("output_config", out var outputConfig) && outputConfig.ValueKind == JsonValueKind.Object && outputConfig.TryGetProperty("format", out var format) && format.ValueKind == JsonValueKind.Object
            || root.TryGetProperty("tool_choice", out var toolChoice) && toolChoice.ValueKind == JsonValueKind.Object && toolChoice.TryGetProperty("type", out var choice)
                && choice.ValueKind == JsonValueKind.String && (choice.ValueEquals("tool"u8) || choice.ValueEquals("any"u8));

        return new RoutingRequest
        {
            Text = text.ToString().AsMemory(),
            EstimatedInputTokens = estimatedTokens,
            ToolCount = toolCount,
            HasImages = hasImages,
            StructuredOutput = structured,
            MaxTokens = maxTokens,
            ConversationDepth = messages.GetArrayLength(),
            RequestedModel = model,
            Traits = ModelMix.Catalog.RequestTraitsReader.Read(root),
        };
    }

    /// <summary>
    /// Whether a user turn carries text a person wrote: a string, or a text block that is not a client's injected
    /// <c>&lt;system-reminder&gt;</c> (a turn of tool results only is the agent loop, not the person).
    /// </summary>
    private static bool HasWrittenText(JsonElement content)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return !content.ValueEquals(""u8);
            case JsonValueKind.Array:
                foreach (var block in content.EnumerateArray())
                {
                    if (IsWrittenTextBlock(block))
                    {
                        return true;
                    }
                }

                return false;
            default:
                return false;
        }
    }

    private static bool IsWrittenTextBlock(JsonElement block) =>
        block.ValueKind == JsonValueKind.Object && block.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String
        && !(block.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && !type.ValueEquals("text"u8))
        && !IsSystemReminder(text);

    /// <summary>Claude Code wraps context it injects into user turns in <c>&lt;system-reminder&gt;</c> tags.</summary>
    private static bool IsSystemReminder(JsonElement text)
    {
        // The raw JSON string (quotes and escapes as sent): nothing is decoded or allocated. Leading spaces and
        // escaped newlines, tabs and carriage returns are skipped.
        var raw = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(text);
        var i = raw.Length > 0 && raw[0] == (byte)'"' ? 1 : 0;
        while (i < raw.Length)
        {
            if (raw[i] == (byte)' ')
            {
                i++;
            }
            else if (raw[i] == (byte)'\\' && i + 1 < raw.Length && raw[i + 1] is (byte)'n' or (byte)'t' or (byte)'r')
            {
                i += 2;
            }
            else
            {
                break;
            }
        }

        return raw[i..].StartsWith("<system-reminder>"u8);
    }

    private static void AppendText(ref RoutingText text, JsonElement content)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                text.Append(content.GetString());
                break;
            case JsonValueKind.Array:
                foreach (var block in content.EnumerateArray())
                {
                    if (IsWrittenTextBlock(block) && block.TryGetProperty("text", out var blockText))
                    {
                        if (text.Length > 0)
                        {
                            text.Append('\n');
                        }

                        text.Append(blockText.GetString());
                    }
                }

                break;
        }
    }

    /// <summary>
    /// The routing text as a <see cref="StringBuilder"/> would build it, without one while it is a single string: the
    /// usual request (one user message, no system prompt) then costs only the string read from the JSON.
    /// </summary>
    internal struct RoutingText
    {
        private string? _single;
        private StringBuilder? _builder;

        public readonly int Length => _builder?.Length ?? _single?.Length ?? 0;

        public void Append(string? value)
        {
            if (string.IsNullOrEmpty(value))
            {
                return;
            }

            if (_builder is not null)
            {
                _builder.Append(value);
            }
            else if (_single is null)
            {
                _single = value;
            }
            else
            {
                _builder = new StringBuilder(_single, _single.Length + value.Length + 16).Append(value);
                _single = null;
            }
        }

        public void Append(char value)
        {
            if (_builder is null)
            {
                _builder = new StringBuilder(_single, (_single?.Length ?? 0) + 16);
                _single = null;
            }

            _builder.Append(value);
        }

        public override readonly string ToString() => _builder?.ToString() ?? _single ?? string.Empty;
    }
}
