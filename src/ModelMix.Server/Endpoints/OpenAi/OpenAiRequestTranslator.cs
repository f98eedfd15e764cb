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
    public static OpenAiTranslatedRequest Translate(ReadOnlyMemory<byte> body, bool dropSamplingParameters) =>
        Parse(body, "model and messages", root => Translate(root, dropSamplingParameters));

    /// <summary>
    /// Parses <paramref name="body"/> as JSON and hands its root to <paramref name="translate"/>; malformed JSON (and an
    /// escaped unpaired surrogate met while reading) becomes an <see cref="OpenAiRequestException"/>. Shared by both
    /// OpenAI doors.
    /// </summary>
    /// <param name="body">The request body.</param>
    /// <param name="expected">What the body should hold, for the empty-body message (e.g. "model and input").</param>
    /// <param name="translate">The translation of the parsed root.</param>
    internal static T Parse<T>(ReadOnlyMemory<byte> body, string expected, Func<JsonElement, T> translate)
    {
        if (body.IsEmpty)
        {
            throw new OpenAiRequestException($"The request body is empty: expected a JSON object with {expected}.", param: null);
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
                return translate(document.RootElement);
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
            ["max_tokens"] = MaxTokens(root, "max_completion_tokens", "max_tokens"),
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

            AppendTurn(turns, anthropicRole, blocks);
        }

        if (turns.Count == 0)
        {
            throw new OpenAiRequestException("messages: at least one user or assistant message is required besides system messages.", "messages");
        }

        return turns;
    }

    /// <summary>
    /// Adds a turn to <paramref name="turns"/>, or its blocks to the last turn when that has the same role: the Messages API
    /// wants alternating turns, so tool results and a following user message share one turn.
    /// </summary>
    internal static void AppendTurn(JsonArray turns, string role, JsonArray blocks)
    {
        if (turns.Count > 0 && turns[^1] is JsonObject last && last["role"]!.GetValue<string>() == role && last["content"] is JsonArray lastContent)
        {
            foreach (var block in blocks.ToArray())
            {
                blocks.Remove(block);
                lastContent.Add(block);
            }

            return;
        }

        turns.Add(new JsonObject { ["role"] = role, ["content"] = blocks });
    }

    private static JsonArray UserContent(JsonElement message, string path) =>
        ContentBlocks(Optional(message, "content"), path, (blocks, type, part, partPath) =>
        {
            switch (type)
            {
                case "text":
                    AddText(blocks, PartText(part, partPath));
                    break;
                case "image_url":
                    blocks.Add(Image(part, partPath));
                    break;
                default:
                    throw new OpenAiRequestException($"{partPath}.type: content parts of type '{type}' are not supported (text and image_url are).", partPath + ".type");
            }
        });

    /// <summary>Adds the Anthropic blocks of one typed content part (at its path) to a turn's blocks.</summary>
    internal delegate void PartHandler(JsonArray blocks, string type, JsonElement part, string partPath);

    /// <summary>
    /// A message's <c>content</c> (at <paramref name="path"/><c>.content</c>) as Anthropic blocks: a string becomes a text
    /// block (none when empty), each part of an array goes to <paramref name="addPart"/> with its type.
    /// </summary>
    internal static JsonArray ContentBlocks(JsonElement? content, string path, PartHandler addPart)
    {
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
                    addPart(blocks, PartType(part, partPath), part, partPath);
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
            blocks.Add(ToolUse(id, name, Optional(function, "arguments"), callPath + ".function.arguments"));
        }

        return blocks;
    }

    /// <summary>
    /// A <c>tool_use</c> block for a function call the client sends back: <paramref name="arguments"/> (a JSON string, or
    /// absent / blank for none) must encode a JSON object, which becomes <c>input</c>.
    /// </summary>
    internal static JsonObject ToolUse(string id, string name, JsonElement? arguments, string param)
    {
        JsonNode input = new JsonObject();
        if (arguments is { } value)
        {
            if (value.ValueKind != JsonValueKind.String)
            {
                throw new OpenAiRequestException($"{param}: expected a JSON string.", param);
            }

            var raw = value.GetString()!;
            if (!string.IsNullOrWhiteSpace(raw))
            {
                try
                {
                    input = JsonNode.Parse(raw) ?? new JsonObject();
                }
                catch (JsonException)
                {
                    throw new OpenAiRequestException($"{param}: not valid JSON, so it cannot become a tool_use input.", param);
                }
            }
        }

        if (input is not JsonObject)
        {
            throw new OpenAiRequestException($"{param}: must encode a JSON object.", param);
        }

        return new JsonObject { ["type"] = "tool_use", ["id"] = id, ["name"] = name, ["input"] = input };
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

        return ImageFromUrl(RequiredString(imageUrl, "url", path + ".image_url.url"), path + ".image_url.url");
    }

    /// <summary>An Anthropic <c>image</c> block for an image URL: a <c>data:…;base64,</c> URL becomes a base64 source, an http(s) URL a url source.</summary>
    /// <param name="url">The URL as the client sent it.</param>
    /// <param name="param">The parameter it came in, for the error.</param>
    internal static JsonObject ImageFromUrl(string url, string param)
    {
        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            // data:[<media type>][;base64],<data>
            var comma = url.IndexOf(',', StringComparison.Ordinal);
            var header = comma > 5 ? url[5..comma] : string.Empty;
            var separator = header.IndexOf(';', StringComparison.Ordinal);
            var mediaType = separator >= 0 ? header[..separator] : header;
            if (comma < 0 || !header.EndsWith(";base64", StringComparison.OrdinalIgnoreCase) || mediaType.Length == 0)
            {
                throw new OpenAiRequestException($"{param}: a data URL must look like data:image/png;base64,<data>.", param);
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

        throw new OpenAiRequestException($"{param}: expected a data: URL or an http(s) URL.", param);
    }

    /// <summary>The first of <paramref name="names"/> that is set, as <c>max_tokens</c>; <see cref="DefaultMaxTokens"/> when none is.</summary>
    internal static long MaxTokens(JsonElement root, params string[] names)
    {
        foreach (var name in names)
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

    private static void Tools(JsonElement root, JsonObject output) => Tools(
        root,
        output,
        (tool, path) =>
        {
            if (tool.ValueKind != JsonValueKind.Object || Optional(tool, "type") is not { ValueKind: JsonValueKind.String } type || !type.ValueEquals("function"u8))
            {
                throw new OpenAiRequestException($"{path}.type: only tools of type 'function' are supported.", path + ".type");
            }

            return Optional(tool, "function") is { ValueKind: JsonValueKind.Object } function
                ? ToolDefinition(function, path + ".function")
                : throw new OpenAiRequestException($"{path}.function: Field required.", path + ".function");
        },
        named => Optional(named, "function") is { ValueKind: JsonValueKind.Object } function
            ? RequiredString(function, "name", "tool_choice.function.name")
            : throw new OpenAiRequestException("tool_choice: expected {\"type\": \"function\", \"function\": {\"name\": …}}.", "tool_choice"));

    /// <summary>
    /// Maps <c>tools</c> and <c>tool_choice</c>, shared by both OpenAI doors: <paramref name="tool"/> turns one element of
    /// <c>tools</c> (at its path) into an Anthropic tool or refuses it; <paramref name="namedTool"/> reads the tool name of
    /// an object <c>tool_choice</c> or refuses it. String choices are <see cref="ToolChoiceMode"/>'s.
    /// </summary>
    internal static void Tools(JsonElement root, JsonObject output, Func<JsonElement, string, JsonObject> tool, Func<JsonElement, string> namedTool)
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
            foreach (var element in tools.EnumerateArray())
            {
                translated.Add(tool(element, $"tools[{index++}]"));
            }

            hasTools = translated.Count > 0;
            if (hasTools)
            {
                output["tools"] = translated;
            }
        }

        var choice = Optional(root, "tool_choice") switch
        {
            null or { ValueKind: JsonValueKind.Null } => null,
            { ValueKind: JsonValueKind.String } mode => ToolChoiceMode(mode.GetString()!, "tool_choice"),
            { ValueKind: JsonValueKind.Object } named => new JsonObject { ["type"] = "tool", ["name"] = namedTool(named) },
            _ => throw new OpenAiRequestException("tool_choice: expected a string or an object.", "tool_choice"),
        };
        SetToolChoice(root, output, hasTools, choice);
    }

    /// <summary>An Anthropic tool for an OpenAI function definition (<c>name</c>, <c>description</c>, <c>parameters</c>), found at <paramref name="path"/>.</summary>
    internal static JsonObject ToolDefinition(JsonElement function, string path)
    {
        var entry = new JsonObject { ["name"] = RequiredString(function, "name", path + ".name") };
        if (Optional(function, "description") is { ValueKind: JsonValueKind.String } description)
        {
            entry["description"] = description.GetString();
        }

        entry["input_schema"] = Optional(function, "parameters") switch
        {
            { ValueKind: JsonValueKind.Object } parameters => Schema(parameters, path + ".parameters"),
            null or { ValueKind: JsonValueKind.Null } => new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() },
            _ => throw new OpenAiRequestException($"{path}.parameters: expected a JSON Schema object.", path + ".parameters"),
        };
        return entry;
    }

    /// <summary>The Anthropic <c>tool_choice</c> for an OpenAI mode: <c>auto</c>, <c>none</c>, <c>required</c> (→ <c>any</c>).</summary>
    internal static JsonObject ToolChoiceMode(string mode, string param) => mode switch
    {
        "auto" => new JsonObject { ["type"] = "auto" },
        "none" => new JsonObject { ["type"] = "none" },
        "required" => new JsonObject { ["type"] = "any" },
        var other => throw new OpenAiRequestException($"{param}: '{other}' is not one of auto, none, required.", param),
    };

    /// <summary>
    /// Sets <c>tool_choice</c>: without tools only <c>auto</c> / <c>none</c> are accepted (and dropped);
    /// <c>parallel_tool_calls: false</c> becomes <c>disable_parallel_tool_use</c>.
    /// </summary>
    private static void SetToolChoice(JsonElement root, JsonObject output, bool hasTools, JsonObject? choice)
    {
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
    private static bool ResponseFormat(JsonElement root, JsonObject output) =>
        ResponseFormat(Optional(root, "response_format"), "response_format", "json_schema.schema", format =>
            Optional(format, "json_schema") is { ValueKind: JsonValueKind.Object } jsonSchema ? Optional(jsonSchema, "schema") : null, output);

    /// <summary>
    /// Maps a response format (<c>response_format</c>, or the Responses API's <c>text.format</c>, at <paramref name="param"/>):
    /// <c>json_schema</c> becomes structured output with the schema <paramref name="schemaOf"/> finds (at
    /// <paramref name="schemaParam"/> below it); returns true for <c>json_object</c> (JSON mode), which becomes a system
    /// instruction (<see cref="JsonObjectInstruction"/>).
    /// </summary>
    internal static bool ResponseFormat(JsonElement? format, string param, string schemaParam, Func<JsonElement, JsonElement?> schemaOf, JsonObject output)
    {
        if (format is not { } value || value.ValueKind == JsonValueKind.Null)
        {
            return false;
        }

        var type = value.ValueKind == JsonValueKind.Object && Optional(value, "type") is { ValueKind: JsonValueKind.String } t ? t.GetString() : null;
        switch (type)
        {
            case "text":
                return false;
            case "json_object":
                return true;
            case "json_schema":
                if (schemaOf(value) is not { ValueKind: JsonValueKind.Object } schema)
                {
                    throw new OpenAiRequestException($"{param}.{schemaParam}: Field required (a JSON Schema object).", $"{param}.{schemaParam}");
                }

                SetStructuredOutput(output, schema, $"{param}.{schemaParam}");
                return false;
            default:
                throw new OpenAiRequestException($"{param}.type: expected text, json_object or json_schema.", param + ".type");
        }
    }

    /// <summary>Anthropic structured outputs: <c>output_config.format</c> constrains the answer's text to <paramref name="schema"/>.</summary>
    private static void SetStructuredOutput(JsonObject output, JsonElement schema, string param)
    {
        var config = output["output_config"] as JsonObject ?? [];
        config["format"] = new JsonObject { ["type"] = "json_schema", ["schema"] = Schema(schema, param) };
        output["output_config"] = config;
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

    internal static void Sampling(JsonElement root, JsonObject output, bool drop)
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

    internal static void AddText(JsonArray blocks, string? text)
    {
        // The Messages API refuses empty text blocks.
        if (!string.IsNullOrEmpty(text))
        {
            blocks.Add(TextBlock(text));
        }
    }

    internal static JsonObject TextBlock(string text) => new() { ["type"] = "text", ["text"] = text };

    internal static JsonElement? Optional(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value : null;

    internal static bool Boolean(JsonElement element, string name, string? param = null) => Optional(element, name) switch
    {
        null or { ValueKind: JsonValueKind.Null or JsonValueKind.False } => false,
        { ValueKind: JsonValueKind.True } => true,
        _ => throw new OpenAiRequestException($"{param ?? name}: expected a boolean.", param ?? name),
    };

    internal static string RequiredString(JsonElement element, string name, string? param = null, bool allowEmpty = false)
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
