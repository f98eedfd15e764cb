using System.Text.Json;
using System.Text.Json.Nodes;
using ModelMix.Catalog;
using ModelMix.Pricing;
using static ModelMix.Server.OpenAi.OpenAiRequestTranslator;

namespace ModelMix.Server.OpenAi;

/// <summary>
/// Turns an OpenAI Responses API request body (<c>POST /v1/responses</c>) into an Anthropic Messages body: <c>instructions</c>
/// and system / developer messages become <c>system</c>, <c>function_call</c> and <c>function_call_output</c> items become
/// <c>tool_use</c> / <c>tool_result</c> blocks, <c>text.format</c> becomes structured output and <c>reasoning.effort</c>
/// Claude's effort (see docs/openai.md). The mapping it shares with Chat Completions (images, tools, tool choice,
/// schemas, sampling) is <see cref="OpenAiRequestTranslator"/>'s. ModelMix keeps no state, so whatever needs a stored
/// response (<c>previous_response_id</c>, <c>store: true</c>, <c>background</c>, <c>conversation</c>, item references) is
/// refused with an <see cref="OpenAiRequestException"/> naming the limitation, as is input Claude cannot take.
/// </summary>
internal static class ResponsesRequestTranslator
{
    /// <summary>The message that ends every refusal of stateful features.</summary>
    public const string Stateless = "ModelMix's /v1/responses is stateless: it stores no responses, so send the whole conversation in input (and leave store unset or false).";

    /// <summary>
    /// Translates <paramref name="body"/>. <paramref name="dropSamplingParameters"/> is true when the upstream call uses an
    /// <c>anthropic-version</c> that removed <c>temperature</c> and <c>top_p</c>; <paramref name="catalog"/> clamps the
    /// effort to what a catalog model accepts.
    /// </summary>
    /// <exception cref="OpenAiRequestException">The body is malformed, needs state, or cannot be translated.</exception>
    public static ResponsesTranslatedRequest Translate(ReadOnlyMemory<byte> body, bool dropSamplingParameters, PriceBook? catalog) =>
        Parse(body, "model and input", root => Translate(root, dropSamplingParameters, catalog));

    private static ResponsesTranslatedRequest Translate(JsonElement root, bool dropSamplingParameters, PriceBook? catalog)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new OpenAiRequestException("The request body must be a JSON object.", param: null);
        }

        RefuseState(root);
        var model = RequiredString(root, "model");
        var output = new JsonObject
        {
            ["model"] = model,
            ["max_tokens"] = MaxTokens(root, "max_output_tokens"),
        };

        var system = new JsonArray();
        var instructions = Optional(root, "instructions") switch
        {
            null or { ValueKind: JsonValueKind.Null } => null,
            { ValueKind: JsonValueKind.String } text => text.GetString(),
            _ => throw new OpenAiRequestException("instructions: expected a string.", "instructions"),
        };
        AddText(system, instructions);

        var messages = Input(root, system);
        if (TextFormat(root, output))
        {
            system.Add(TextBlock(JsonObjectInstruction));
        }

        if (system.Count > 0)
        {
            output["system"] = system;
        }

        output["messages"] = messages;
        Tools(root, output);
        Sampling(root, output, dropSamplingParameters);
        var effort = Effort(root, model, catalog);
        if (effort is not null)
        {
            var config = output["output_config"] as JsonObject ?? [];
            config["effort"] = effort;
            output["output_config"] = config;
        }

        var userId = Optional(root, "safety_identifier") is { ValueKind: JsonValueKind.String } safety && safety.GetString() is { Length: > 0 } safetyId ? safetyId
            : Optional(root, "user") is { ValueKind: JsonValueKind.String } user && user.GetString() is { Length: > 0 } userValue ? userValue
            : null;
        if (userId is not null)
        {
            output["metadata"] = new JsonObject { ["user_id"] = userId };
        }

        var stream = Boolean(root, "stream");
        if (stream)
        {
            output["stream"] = true;
        }

        return new ResponsesTranslatedRequest(OpenAiJson.ToUtf8(output), stream, Echo(root, instructions));
    }

    /// <summary>Refuses what needs a stored response or a server-side job.</summary>
    private static void RefuseState(JsonElement root)
    {
        foreach (var name in (string[])["previous_response_id", "conversation", "prompt"])
        {
            if (Optional(root, name) is { } value && value.ValueKind != JsonValueKind.Null)
            {
                var what = name switch
                {
                    "previous_response_id" => "previous_response_id needs the earlier response, which ModelMix does not keep.",
                    "conversation" => "conversation needs a stored conversation, which ModelMix does not keep.",
                    _ => "prompt refers to a stored prompt template, which ModelMix does not have; send instructions and input instead.",
                };
                throw new OpenAiRequestException($"{name}: {what} {Stateless}", name);
            }
        }

        if (Boolean(root, "store"))
        {
            throw new OpenAiRequestException($"store: true asks for the response to be stored. {Stateless}", "store");
        }

        if (Boolean(root, "background"))
        {
            throw new OpenAiRequestException("background: background responses run as stored jobs, which ModelMix's stateless /v1/responses does not have; send the request without background (stream it for long answers).", "background");
        }
    }

    private static JsonArray Input(JsonElement root, JsonArray system)
    {
        var turns = new JsonArray();
        switch (Optional(root, "input"))
        {
            case null or { ValueKind: JsonValueKind.Null }:
                throw new OpenAiRequestException("input: Field required.", "input");
            case { ValueKind: JsonValueKind.String } text:
                var blocks = new JsonArray();
                AddText(blocks, text.GetString());
                if (blocks.Count == 0)
                {
                    throw new OpenAiRequestException("input: expected non-empty text or an array of input items.", "input");
                }

                turns.Add(new JsonObject { ["role"] = "user", ["content"] = blocks });
                return turns;
            case { ValueKind: JsonValueKind.Array } items:
                var index = 0;
                foreach (var item in items.EnumerateArray())
                {
                    InputItem(item, $"input[{index++}]", turns, system);
                }

                break;
            default:
                throw new OpenAiRequestException("input: expected a string or an array of input items.", "input");
        }

        if (turns.Count == 0)
        {
            throw new OpenAiRequestException("input: at least one user or assistant item is required besides system and developer messages.", "input");
        }

        return turns;
    }

    private static void InputItem(JsonElement item, string path, JsonArray turns, JsonArray system)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw new OpenAiRequestException($"{path}: expected an input item object.", path);
        }

        var type = Optional(item, "type") switch
        {
            null or { ValueKind: JsonValueKind.Null } => "message",
            { ValueKind: JsonValueKind.String } value => value.GetString(),
            _ => throw new OpenAiRequestException($"{path}.type: expected a string.", path + ".type"),
        };
        switch (type)
        {
            case "message":
                Message(item, path, turns, system);
                break;
            case "function_call":
                var call = ToolUse(RequiredString(item, "call_id", path + ".call_id"), RequiredString(item, "name", path + ".name"), Optional(item, "arguments"), path + ".arguments");
                AppendTurn(turns, "assistant", [call]);
                break;
            case "function_call_output":
                AppendTurn(turns, "user", [ToolResult(item, path)]);
                break;
            case "reasoning":
                // OpenAI reasoning items (ModelMix never returns any) cannot be given to Claude: they are left out.
                break;
            case "item_reference":
                throw new OpenAiRequestException($"{path}.type: an item_reference points at a stored item. {Stateless} Clients that reference earlier output items by id do so when store is not false: set store to false in the client (e.g. providerOptions.openai.store = false in the Vercel AI SDK).", path + ".type");
            default:
                throw new OpenAiRequestException($"{path}.type: input items of type '{type}' are not supported (message, function_call and function_call_output are).", path + ".type");
        }
    }

    private static void Message(JsonElement item, string path, JsonArray turns, JsonArray system)
    {
        var role = Optional(item, "role") is { ValueKind: JsonValueKind.String } roleElement ? roleElement.GetString() : null;
        var content = Optional(item, "content");
        switch (role)
        {
            case "system" or "developer":
                var texts = Content(content, path, role);
                if (texts.Count == 0)
                {
                    throw new OpenAiRequestException($"{path}.content: a {role} message needs non-empty content.", path + ".content");
                }

                foreach (var block in texts.ToArray())
                {
                    texts.Remove(block);
                    system.Add(block);
                }

                return;
            case "user" or "assistant":
                var blocks = Content(content, path, role);
                if (blocks.Count == 0)
                {
                    throw new OpenAiRequestException($"{path}.content: a {role} message needs non-empty content.", path + ".content");
                }

                AppendTurn(turns, role, blocks);
                return;
            case null:
                throw new OpenAiRequestException($"{path}.role: Field required (user, assistant, system or developer).", path + ".role");
            default:
                throw new OpenAiRequestException($"{path}.role: '{role}' is not supported (use user, assistant, system or developer).", path + ".role");
        }
    }

    /// <summary>
    /// A message's content as Anthropic blocks: a string, or parts — <c>input_text</c> (and, from an assistant, <c>output_text</c>
    /// and <c>refusal</c>) as text, <c>input_image</c> as an image (user messages only).
    /// </summary>
    private static JsonArray Content(JsonElement? content, string path, string role) =>
        ContentBlocks(content, path, (blocks, type, part, partPath) =>
        {
            switch (type)
            {
                case "input_text" or "output_text":
                    AddText(blocks, RequiredString(part, "text", partPath + ".text", allowEmpty: true));
                    break;
                case "refusal" when role == "assistant":
                    AddText(blocks, RequiredString(part, "refusal", partPath + ".refusal", allowEmpty: true));
                    break;
                case "input_image" when role == "user":
                    blocks.Add(InputImage(part, partPath));
                    break;
                case "input_file":
                    throw new OpenAiRequestException($"{partPath}.type: input_file parts (files and PDFs) are not supported; send the text, or images as input_image.", partPath + ".type");
                default:
                    throw new OpenAiRequestException($"{partPath}.type: content parts of type '{type}' are not supported in a {role} message (input_text{(role == "user" ? ", input_image" : role == "assistant" ? ", output_text, refusal" : string.Empty)} are).", partPath + ".type");
            }
        });

    private static JsonObject InputImage(JsonElement part, string path)
    {
        if (Optional(part, "image_url") is { ValueKind: JsonValueKind.String } url)
        {
            return ImageFromUrl(url.GetString()!, path + ".image_url");
        }

        if (Optional(part, "file_id") is { ValueKind: JsonValueKind.String })
        {
            throw new OpenAiRequestException($"{path}.file_id: uploaded files are not supported; send the image as image_url (a data: URL or an http(s) URL).", path + ".file_id");
        }

        throw new OpenAiRequestException($"{path}.image_url: Field required.", path + ".image_url");
    }

    private static JsonObject ToolResult(JsonElement item, string path)
    {
        var result = new JsonObject { ["type"] = "tool_result", ["tool_use_id"] = RequiredString(item, "call_id", path + ".call_id") };
        switch (Optional(item, "output"))
        {
            case null:
                throw new OpenAiRequestException($"{path}.output: Field required.", path + ".output");
            case { ValueKind: JsonValueKind.String } text:
                if (text.GetString() is { Length: > 0 } value)
                {
                    result["content"] = value;
                }

                break;
            case { ValueKind: JsonValueKind.Array } parts:
                var blocks = new JsonArray();
                var index = 0;
                foreach (var part in parts.EnumerateArray())
                {
                    var partPath = $"{path}.output[{index++}]";
                    var type = part.ValueKind == JsonValueKind.Object && Optional(part, "type") is { ValueKind: JsonValueKind.String } t ? t.GetString() : null;
                    switch (type)
                    {
                        case "input_text":
                            AddText(blocks, RequiredString(part, "text", partPath + ".text", allowEmpty: true));
                            break;
                        case "input_image":
                            blocks.Add(InputImage(part, partPath));
                            break;
                        default:
                            throw new OpenAiRequestException($"{partPath}.type: tool output parts must be input_text or input_image.", partPath + ".type");
                    }
                }

                if (blocks.Count > 0)
                {
                    result["content"] = blocks;
                }

                break;
            default:
                throw new OpenAiRequestException($"{path}.output: expected a string or an array of input_text / input_image parts.", path + ".output");
        }

        return result;
    }

    private static void Tools(JsonElement root, JsonObject output) => OpenAiRequestTranslator.Tools(
        root,
        output,
        (tool, path) =>
        {
            var type = tool.ValueKind == JsonValueKind.Object && Optional(tool, "type") is { ValueKind: JsonValueKind.String } t ? t.GetString() : null;
            return type == "function"
                ? ToolDefinition(tool, path)
                : throw new OpenAiRequestException($"{path}.type: only tools of type 'function' are supported{(type is null ? string.Empty : $", not '{type}' (OpenAI's hosted tools run on OpenAI's servers)")}.", path + ".type");
        },
        named =>
        {
            var type = Optional(named, "type") is { ValueKind: JsonValueKind.String } t ? t.GetString() : null;
            return type == "function"
                ? RequiredString(named, "name", "tool_choice.name")
                : throw new OpenAiRequestException($"tool_choice.type: only {{\"type\": \"function\", \"name\": …}} is supported{(type is null ? string.Empty : $", not '{type}'")}.", "tool_choice.type");
        });

    /// <summary>Maps <c>text.format</c>; returns true for JSON mode (<c>json_object</c>), which becomes a system instruction.</summary>
    private static bool TextFormat(JsonElement root, JsonObject output)
    {
        if (Optional(root, "text") is not { } text || text.ValueKind == JsonValueKind.Null)
        {
            return false;
        }

        if (text.ValueKind != JsonValueKind.Object)
        {
            throw new OpenAiRequestException("text: expected an object.", "text");
        }

        return ResponseFormat(Optional(text, "format"), "text.format", "schema", format => Optional(format, "schema"), output);
    }

    /// <summary>
    /// The Claude effort for <c>reasoning.effort</c>: <c>none</c> and <c>minimal</c> → <c>low</c> (Claude's lowest),
    /// <c>low</c> … <c>max</c> as named; for a catalog model, clamped down to the highest level it accepts, and left out
    /// for a model that takes no effort (docs/models.md). Null when the request sets none.
    /// </summary>
    private static string? Effort(JsonElement root, string model, PriceBook? catalog)
    {
        if (Optional(root, "reasoning") is not { } reasoning || reasoning.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (reasoning.ValueKind != JsonValueKind.Object)
        {
            throw new OpenAiRequestException("reasoning: expected an object.", "reasoning");
        }

        if (Optional(reasoning, "effort") is not { } value || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var name = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        var level = name switch
        {
            "none" or "minimal" => EffortLevel.Low,
            _ when name is not null && RequestTraitsReader.TryParseEffort(name, out var parsed) => parsed,
            _ => throw new OpenAiRequestException("reasoning.effort: expected one of none, minimal, low, medium, high, xhigh, max.", "reasoning.effort"),
        };
        if (catalog is not null && catalog.TryGetEntry(model, out var entry))
        {
            level = ModelFit.Clamp(entry.Rules, level);
        }

        return RequestTraitsReader.WireName(level);
    }

    /// <summary>The request's parameters as the Response object repeats them (<c>instructions</c>, <c>tools</c>, <c>text</c> …).</summary>
    private static JsonObject Echo(JsonElement root, string? instructions)
    {
        JsonNode? Copy(string name) =>
            Optional(root, name) is { } value && value.ValueKind != JsonValueKind.Null ? JsonNode.Parse(value.GetRawText(), documentOptions: new JsonDocumentOptions { MaxDepth = 128 }) : null;

        var reasoning = new JsonObject
        {
            ["effort"] = Optional(root, "reasoning") is { ValueKind: JsonValueKind.Object } r && Optional(r, "effort") is { ValueKind: JsonValueKind.String } e ? e.GetString() : null,
            ["summary"] = null,
        };
        return new JsonObject
        {
            ["instructions"] = instructions,
            ["max_output_tokens"] = Copy("max_output_tokens"),
            ["metadata"] = Optional(root, "metadata") is { ValueKind: JsonValueKind.Object } ? Copy("metadata") : new JsonObject(),
            ["parallel_tool_calls"] = Optional(root, "parallel_tool_calls") is not { ValueKind: JsonValueKind.False },
            ["previous_response_id"] = null,
            ["reasoning"] = reasoning,
            ["store"] = false,
            ["temperature"] = Copy("temperature"),
            ["text"] = Optional(root, "text") is { ValueKind: JsonValueKind.Object } ? Copy("text") : new JsonObject { ["format"] = new JsonObject { ["type"] = "text" } },
            ["tool_choice"] = Copy("tool_choice") ?? "auto",
            ["tools"] = Optional(root, "tools") is { ValueKind: JsonValueKind.Array } ? Copy("tools") : new JsonArray(),
            ["top_p"] = Copy("top_p"),
            ["truncation"] = "disabled",
        };
    }
}
