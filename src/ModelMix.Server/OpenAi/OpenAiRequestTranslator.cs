using System.Text.Json;
using System.Text.Json.Nodes;

namespace ModelMix.Server.OpenAi;

/// <summary>
/// Turns an OpenAI Chat Completions request body into an Anthropic Messages body: system and developer messages
/// become <c>system</c>, tool calls and tool results become <c>tool_use</c> / <c>tool_result</c> blocks, consecutive
/// turns of one role are merged, and the parameters are mapped (see docs/openai.md). Input the Messages API cannot
/// express is refused with an <see cref="OpenAiRequestException"/> rather than silently changed.
/// </summary>
internal static class OpenAiRequestTranslator
{
    /// <summary><c>max_tokens</c> sent upstream when the request sets neither <c>max_completion_tokens</c> nor <c>max_tokens</c>.</summary>
    public const int DefaultMaxTokens = 4096;

    /// <summary>The system instruction added for <c>response_format: {"type": "json_object"}</c>, which has no schema to enforce.</summary>
    public const string JsonObjectInstruction = "Respond with a single valid JSON object and nothing else: no prose, no code fences.";

    /// <summary>
    /// Translates <paramref name="body"/>. <paramref name="dropSamplingParameters"/> is true when the upstream call uses an
    /// <c>anthropic-version</c> that removed <c>temperature</c> and <c>top_p</c> (2026-10-21 and later).
    /// </summary>
    /// <exception cref="OpenAiRequestException">The body is malformed or asks for something that cannot be translated.</exception>
    public static OpenAiTranslatedRequest Translate(ReadOnlyMemory<byte> body, bool dropSamplingParameters)
    {
        if (body.IsEmpty)
        {
            throw new OpenAiRequestException("The request body is empty: expected a JSON object with model and messages.", param: null);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 128 });
        }
        catch (JsonException exception)
        {
            throw new OpenAiRequestException($"The request body is not valid JSON: {exception.Message}", param: null);
        }

        using (document)
        {
            try
            {
                return Translate(document.RootElement, dropSamplingParameters);
            }
            catch (InvalidOperationException)
            {
                // System.Text.Json refuses to decode an escaped unpaired surrogate ("\ud800") in a string or a
                // property name; the reader accepts it, so it surfaces only when a value or key is read.
                throw new OpenAiRequestException("The request body is not valid JSON: a string contains an unpaired UTF-16 surrogate escape.", param: null);
            }
        }
    }

    private static OpenAiTranslatedRequest Translate(JsonElement root, bool dropSamplingParameters)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new OpenAiRequestException("The request body must be a JSON object.", param: null);
        }

        // As on /v1/messages (MessagesRequest): a top-level field given twice is refused, never read last-wins.
        if (DuplicateFields.FirstDuplicate(root) is { } duplicate)
        {
            var name = MessagesRequest.Clip(duplicate);
            throw new OpenAiRequestException($"{name}: the field appears more than once.", name);
        }

        var output = new JsonObject
        {
            ["model"] = RequiredString(root, "model"),
            ["max_tokens"] = MaxTokens(root),
        };

        var system = new JsonArray();
        var messages = Messages(root, system);
        var jsonObjectMode = ResponseFormat(root, output);
        if (jsonObjectMode)
        {
            system.Add(TextBlock(JsonObjectInstruction));
        }

        if (system.Count > 0)
        {
            output["system"] = system;
        }

        output["messages"] = messages;
        Tools(root, output);
        StopSequences(root, output);
        Sampling(root, output, dropSamplingParameters);
        if (Optional(root, "n") is { } n && (n.ValueKind != JsonValueKind.Number || !n.TryGetInt32(out var count) || count != 1))
        {
            throw new OpenAiRequestException("n: only one choice per request is supported (n must be 1).", "n");
        }

        if (Optional(root, "user") is { ValueKind: JsonValueKind.String } user && user.GetString() is { Length: > 0 } userId)
        {
            output["metadata"] = new JsonObject { ["user_id"] = userId };
        }

        foreach (var legacy in (string[])["functions", "function_call"])
        {
            if (Optional(root, legacy) is not null)
            {
                throw new OpenAiRequestException($"{legacy}: the deprecated functions API is not supported; use tools and tool_choice.", legacy);
            }
        }

        var stream = Boolean(root, "stream");
        var includeUsage = false;
        if (Optional(root, "stream_options") is { } options)
        {
            if (options.ValueKind != JsonValueKind.Object)
            {
                throw new OpenAiRequestException("stream_options: expected an object.", "stream_options");
            }

            includeUsage = Boolean(options, "include_usage", "stream_options.include_usage");
        }

        if (stream)
        {
            output["stream"] = true;
        }

        return new OpenAiTranslatedRequest(OpenAiJson.ToUtf8(output), stream, includeUsage);
    }

    private static JsonArray Messages(JsonElement root, JsonArray system)
    {
        if (Optional(root, "messages") is not { } messages)
        {
            throw new OpenAiRequestException("messages: Field required.", "messages");
        }

        if (messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
        {
            throw new OpenAiRequestException("messages: expected a non-empty array of messages.", "messages");
        }

        var turns = new JsonArray();
        string? lastRole = null;
        JsonArray? lastContent = null;
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var path = $"messages[{index++}]";
            if (message.ValueKind != JsonValueKind.Object)
            {
                throw new OpenAiRequestException($"{path}: expected an object with a role.", path);
            }

            var role = Optional(message, "role") is { ValueKind: JsonValueKind.String } roleElement ? roleElement.GetString() : null;
            JsonArray blocks;
            string anthropicRole;
            switch (role)
            {
                case "system" or "developer":
                    foreach (var text in TextParts(message, path, required: true))
                    {
                        system.Add(TextBlock(text));
                    }

                    continue;
                case "user":
                    anthropicRole = "user";
                    blocks = UserContent(message, path);
                    break;
                case "assistant":
                    anthropicRole = "assistant";
                    blocks = AssistantContent(message, path);
                    break;
                case "tool":
                    anthropicRole = "user";
                    blocks = [ToolResult(message, path)];
                    break;
                case null:
                    throw new OpenAiRequestException($"{path}.role: Field required (system, developer, user, assistant or tool).", path + ".role");
                default:
                    throw new OpenAiRequestException($"{path}.role: '{role}' is not supported (use system, developer, user, assistant or tool).", path + ".role");
            }

            if (blocks.Count == 0)
            {
                throw new OpenAiRequestException($"{path}.content: a {role} message needs non-empty content{(role == "assistant" ? " or tool_calls" : string.Empty)}.", path + ".content");
            }

            if (anthropicRole == lastRole && lastContent is not null)
            {
                // The Messages API wants alternating turns: tool results and a following user message share one turn.
                foreach (var block in blocks.ToArray())
                {
                    blocks.Remove(block);
                    lastContent.Add(block);
                }

                continue;
            }

            turns.Add(new JsonObject { ["role"] = anthropicRole, ["content"] = blocks });
            lastRole = anthropicRole;
            lastContent = blocks;
        }

        if (turns.Count == 0)
        {
            throw new OpenAiRequestException("messages: at least one user or assistant message is required besides system messages.", "messages");
        }

        return turns;
    }

    private static JsonArray UserContent(JsonElement message, string path)
    {
        var content = Optional(message, "content");
        var blocks = new JsonArray();
        switch (content)
        {
            case { ValueKind: JsonValueKind.String } text:
                AddText(blocks, text.GetString());
                break;
            case { ValueKind: JsonValueKind.Array } parts:
                var index = 0;
                foreach (var part in parts.EnumerateArray())
                {
                    var partPath = $"{path}.content[{index++}]";
                    switch (PartType(part, partPath))
                    {
                        case "text":
                            AddText(blocks, PartText(part, partPath));
                            break;
                        case "image_url":
                            blocks.Add(Image(part, partPath));
                            break;
                        case var other:
                            throw new OpenAiRequestException($"{partPath}.type: content parts of type '{other}' are not supported (text and image_url are).", partPath + ".type");
                    }
                }

                break;
            default:
                throw new OpenAiRequestException($"{path}.content: expected a string or an array of content parts.", path + ".content");
        }

        return blocks;
    }

    private static JsonArray AssistantContent(JsonElement message, string path)
    {
        var blocks = new JsonArray();
        foreach (var text in TextParts(message, path, required: false))
        {
            AddText(blocks, text);
        }

        if (Optional(message, "tool_calls") is not { } calls)
        {
            return blocks;
        }

        if (calls.ValueKind != JsonValueKind.Array)
        {
            throw new OpenAiRequestException($"{path}.tool_calls: expected an array.", path + ".tool_calls");
        }

        var index = 0;
        foreach (var call in calls.EnumerateArray())
        {
            var callPath = $"{path}.tool_calls[{index++}]";
            if (call.ValueKind != JsonValueKind.Object)
            {
                throw new OpenAiRequestException($"{callPath}: expected an object.", callPath);
            }

            if (Optional(call, "type") is { } type && !(type.ValueKind == JsonValueKind.String && type.ValueEquals("function"u8)))
            {
                throw new OpenAiRequestException($"{callPath}.type: only function tool calls are supported.", callPath + ".type");
            }

            var id = RequiredString(call, "id", callPath + ".id");
            if (Optional(call, "function") is not { ValueKind: JsonValueKind.Object } function)
            {
                throw new OpenAiRequestException($"{callPath}.function: Field required.", callPath + ".function");
            }

            var name = RequiredString(function, "name", callPath + ".function.name");
            JsonNode input = new JsonObject();
            if (Optional(function, "arguments") is { } arguments)
            {
                if (arguments.ValueKind != JsonValueKind.String)
                {
                    throw new OpenAiRequestException($"{callPath}.function.arguments: expected a JSON string.", callPath + ".function.arguments");
                }

                var raw = arguments.GetString()!;
                if (!string.IsNullOrWhiteSpace(raw))
                {
                    try
                    {
                        input = JsonNode.Parse(raw) ?? new JsonObject();
                    }
                    catch (JsonException)
                    {
                        throw new OpenAiRequestException($"{callPath}.function.arguments: not valid JSON, so it cannot become a tool_use input.", callPath + ".function.arguments");
                    }
                }
            }

            if (input is not JsonObject)
            {
                throw new OpenAiRequestException($"{callPath}.function.arguments: must encode a JSON object.", callPath + ".function.arguments");
            }

            blocks.Add(new JsonObject { ["type"] = "tool_use", ["id"] = id, ["name"] = name, ["input"] = input });
        }

        return blocks;
    }

    private static JsonObject ToolResult(JsonElement message, string path)
    {
        var id = RequiredString(message, "tool_call_id", path + ".tool_call_id");
        var texts = TextParts(message, path, required: false);
        var result = new JsonObject { ["type"] = "tool_result", ["tool_use_id"] = id };
        if (texts.Count == 1)
        {
            result["content"] = texts[0];
        }
        else if (texts.Count > 1)
        {
            var blocks = new JsonArray();
            foreach (var text in texts)
            {
                AddText(blocks, text);
            }

            result["content"] = blocks;
        }

        return result;
    }

    /// <summary>The texts of a content that must be text: a string, or an array of text parts.</summary>
    private static List<string> TextParts(JsonElement message, string path, bool required)
    {
        var texts = new List<string>();
        switch (Optional(message, "content"))
        {
            case null or { ValueKind: JsonValueKind.Null } when !required:
                break;
            case { ValueKind: JsonValueKind.String } text:
                if (text.GetString() is { Length: > 0 } value)
                {
                    texts.Add(value);
                }

                break;
            case { ValueKind: JsonValueKind.Array } parts:
                var index = 0;
                foreach (var part in parts.EnumerateArray())
                {
                    var partPath = $"{path}.content[{index++}]";
                    var type = PartType(part, partPath);
                    if (type is not ("text" or "refusal"))
                    {
                        throw new OpenAiRequestException($"{partPath}.type: only text parts are allowed here, not '{type}'.", partPath + ".type");
                    }

                    var partText = type == "text" ? PartText(part, partPath) : RequiredString(part, "refusal", partPath + ".refusal");
                    if (partText.Length > 0)
                    {
                        texts.Add(partText);
                    }
                }

                break;
            default:
                throw new OpenAiRequestException($"{path}.content: expected a string or an array of text parts.", path + ".content");
        }

        return texts;
    }

    private static string PartType(JsonElement part, string path) =>
        part.ValueKind == JsonValueKind.Object && Optional(part, "type") is { ValueKind: JsonValueKind.String } type
            ? type.GetString()!
            : throw new OpenAiRequestException($"{path}: expected a content part object with a type.", path);

    private static string PartText(JsonElement part, string path) => RequiredString(part, "text", path + ".text", allowEmpty: true);

    private static JsonObject Image(JsonElement part, string path)
    {
        if (Optional(part, "image_url") is not { ValueKind: JsonValueKind.Object } imageUrl)
        {
            throw new OpenAiRequestException($"{path}.image_url: Field required.", path + ".image_url");
        }

        var url = RequiredString(imageUrl, "url", path + ".image_url.url");
        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            // data:[<media type>][;base64],<data>
            var comma = url.IndexOf(',', StringComparison.Ordinal);
            var header = comma > 5 ? url[5..comma] : string.Empty;
            var separator = header.IndexOf(';', StringComparison.Ordinal);
            var mediaType = separator >= 0 ? header[..separator] : header;
            if (comma < 0 || !header.EndsWith(";base64", StringComparison.OrdinalIgnoreCase) || mediaType.Length == 0)
            {
                throw new OpenAiRequestException($"{path}.image_url.url: a data URL must look like data:image/png;base64,<data>.", path + ".image_url.url");
            }

            return new JsonObject
            {
                ["type"] = "image",
                ["source"] = new JsonObject { ["type"] = "base64", ["media_type"] = mediaType.ToLowerInvariant(), ["data"] = url[(comma + 1)..] },
            };
        }

        if (url.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            return new JsonObject { ["type"] = "image", ["source"] = new JsonObject { ["type"] = "url", ["url"] = url } };
        }

        throw new OpenAiRequestException($"{path}.image_url.url: expected a data: URL or an http(s) URL.", path + ".image_url.url");
    }

    private static long MaxTokens(JsonElement root)
    {
        foreach (var name in (string[])["max_completion_tokens", "max_tokens"])
        {
            if (Optional(root, name) is not { } value || value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var tokens) || tokens < 1)
            {
                throw new OpenAiRequestException($"{name}: expected an integer of at least 1.", name);
            }

            return tokens;
        }

        return DefaultMaxTokens;
    }

    private static void Tools(JsonElement root, JsonObject output)
    {
        var hasTools = false;
        if (Optional(root, "tools") is { } tools && tools.ValueKind != JsonValueKind.Null)
        {
            if (tools.ValueKind != JsonValueKind.Array)
            {
                throw new OpenAiRequestException("tools: expected an array.", "tools");
            }

            var translated = new JsonArray();
            var index = 0;
            foreach (var tool in tools.EnumerateArray())
            {
                var path = $"tools[{index++}]";
                if (tool.ValueKind != JsonValueKind.Object || Optional(tool, "type") is not { ValueKind: JsonValueKind.String } type || !type.ValueEquals("function"u8))
                {
                    throw new OpenAiRequestException($"{path}.type: only tools of type 'function' are supported.", path + ".type");
                }

                if (Optional(tool, "function") is not { ValueKind: JsonValueKind.Object } function)
                {
                    throw new OpenAiRequestException($"{path}.function: Field required.", path + ".function");
                }

                var entry = new JsonObject { ["name"] = RequiredString(function, "name", path + ".function.name") };
                if (Optional(function, "description") is { ValueKind: JsonValueKind.String } description)
                {
                    entry["description"] = description.GetString();
                }

                entry["input_schema"] = Optional(function, "parameters") switch
                {
                    { ValueKind: JsonValueKind.Object } parameters => Schema(parameters, path + ".function.parameters"),
                    null or { ValueKind: JsonValueKind.Null } => new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() },
                    _ => throw new OpenAiRequestException($"{path}.function.parameters: expected a JSON Schema object.", path + ".function.parameters"),
                };
                translated.Add(entry);
            }

            hasTools = translated.Count > 0;
            if (hasTools)
            {
                output["tools"] = translated;
            }
        }

        JsonObject? choice = null;
        switch (Optional(root, "tool_choice"))
        {
            case null or { ValueKind: JsonValueKind.Null }:
                break;
            case { ValueKind: JsonValueKind.String } mode:
                choice = mode.GetString() switch
                {
                    "auto" => new JsonObject { ["type"] = "auto" },
                    "none" => new JsonObject { ["type"] = "none" },
                    "required" => new JsonObject { ["type"] = "any" },
                    var other => throw new OpenAiRequestException($"tool_choice: '{other}' is not one of auto, none, required.", "tool_choice"),
                };
                break;
            case { ValueKind: JsonValueKind.Object } named:
                if (Optional(named, "function") is not { ValueKind: JsonValueKind.Object } function)
                {
                    throw new OpenAiRequestException("tool_choice: expected {\"type\": \"function\", \"function\": {\"name\": …}}.", "tool_choice");
                }

                choice = new JsonObject { ["type"] = "tool", ["name"] = RequiredString(function, "name", "tool_choice.function.name") };
                break;
            default:
                throw new OpenAiRequestException("tool_choice: expected a string or an object.", "tool_choice");
        }

        if (!hasTools)
        {
            if (choice is not null && choice["type"]!.GetValue<string>() is not ("auto" or "none"))
            {
                throw new OpenAiRequestException("tool_choice: a tool is required, but the request has no tools.", "tool_choice");
            }

            return;
        }

        if (Optional(root, "parallel_tool_calls") is { ValueKind: JsonValueKind.False })
        {
            choice ??= new JsonObject { ["type"] = "auto" };
            if (choice["type"]!.GetValue<string>() != "none")
            {
                choice["disable_parallel_tool_use"] = true;
            }
        }

        if (choice is not null)
        {
            output["tool_choice"] = choice;
        }
    }

    /// <summary>Maps <c>response_format</c>; returns true for JSON mode, which becomes a system instruction.</summary>
    private static bool ResponseFormat(JsonElement root, JsonObject output)
    {
        if (Optional(root, "response_format") is not { } format || format.ValueKind == JsonValueKind.Null)
        {
            return false;
        }

        var type = format.ValueKind == JsonValueKind.Object && Optional(format, "type") is { ValueKind: JsonValueKind.String } t ? t.GetString() : null;
        switch (type)
        {
            case "text":
                return false;
            case "json_object":
                return true;
            case "json_schema":
                if (Optional(format, "json_schema") is not { ValueKind: JsonValueKind.Object } jsonSchema
                    || Optional(jsonSchema, "schema") is not { ValueKind: JsonValueKind.Object } schema)
                {
                    throw new OpenAiRequestException("response_format.json_schema.schema: Field required (a JSON Schema object).", "response_format.json_schema.schema");
                }

                // Anthropic structured outputs: the answer's text is constrained to the schema.
                output["output_config"] = new JsonObject
                {
                    ["format"] = new JsonObject { ["type"] = "json_schema", ["schema"] = Schema(schema, "response_format.json_schema.schema") },
                };
                return false;
            default:
                throw new OpenAiRequestException("response_format.type: expected text, json_object or json_schema.", "response_format.type");
        }
    }

    /// <summary>A copy of a JSON Schema object; refused past <see cref="MaxSchemaDepth"/> levels (the Messages body has a depth limit).</summary>
    private static JsonNode Schema(JsonElement schema, string param)
    {
        try
        {
            return JsonNode.Parse(schema.GetRawText(), documentOptions: new JsonDocumentOptions { MaxDepth = MaxSchemaDepth })!;
        }
        catch (JsonException)
        {
            throw new OpenAiRequestException($"{param}: the schema is nested more than {MaxSchemaDepth} levels deep.", param);
        }
    }

    private const int MaxSchemaDepth = 64;

    private static void StopSequences(JsonElement root, JsonObject output)
    {
        var sequences = new JsonArray();
        switch (Optional(root, "stop"))
        {
            case null or { ValueKind: JsonValueKind.Null }:
                return;
            case { ValueKind: JsonValueKind.String } single:
                AddStop(sequences, single.GetString()!);
                break;
            case { ValueKind: JsonValueKind.Array } list:
                foreach (var item in list.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        throw new OpenAiRequestException("stop: expected a string or an array of strings.", "stop");
                    }

                    AddStop(sequences, item.GetString()!);
                }

                break;
            default:
                throw new OpenAiRequestException("stop: expected a string or an array of strings.", "stop");
        }

        if (sequences.Count > 0)
        {
            output["stop_sequences"] = sequences;
        }
    }

    // The Messages API refuses whitespace-only stop sequences; they are dropped.
    private static void AddStop(JsonArray sequences, string value)
    {
        if (!string.IsNullOrWhiteSpace(value))
        {
            sequences.Add(value);
        }
    }

    private static void Sampling(JsonElement root, JsonObject output, bool drop)
    {
        foreach (var name in (string[])["temperature", "top_p"])
        {
            if (Optional(root, name) is not { } value || value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || number < 0)
            {
                throw new OpenAiRequestException($"{name}: expected a non-negative number.", name);
            }

            if (!drop)
            {
                // OpenAI's temperature goes to 2, Anthropic's to 1: higher values are capped.
                output[name] = Math.Min(number, 1.0);
            }
        }
    }

    private static void AddText(JsonArray blocks, string? text)
    {
        // The Messages API refuses empty text blocks.
        if (!string.IsNullOrEmpty(text))
        {
            blocks.Add(TextBlock(text));
        }
    }

    private static JsonObject TextBlock(string text) => new() { ["type"] = "text", ["text"] = text };

    private static JsonElement? Optional(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value : null;

    private static bool Boolean(JsonElement element, string name, string? param = null) => Optional(element, name) switch
    {
        null or { ValueKind: JsonValueKind.Null or JsonValueKind.False } => false,
        { ValueKind: JsonValueKind.True } => true,
        _ => throw new OpenAiRequestException($"{param ?? name}: expected a boolean.", param ?? name),
    };

    private static string RequiredString(JsonElement element, string name, string? param = null, bool allowEmpty = false)
    {
        param ??= name;
        if (Optional(element, name) is not { } value)
        {
            throw new OpenAiRequestException($"{param}: Field required.", param);
        }

        if (value.ValueKind != JsonValueKind.String || (!allowEmpty && string.IsNullOrWhiteSpace(value.GetString())))
        {
            throw new OpenAiRequestException($"{param}: expected a non-empty string.", param);
        }

        return value.GetString()!;
    }
}
