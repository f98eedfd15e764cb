using System.Text;
using System.Text.Json;

namespace ModelMix.Server.OpenAi;

/// <summary>
/// Turns an Anthropic message into an OpenAI <c>chat.completion</c>: text blocks become <c>content</c>, <c>tool_use</c>
/// blocks become <c>tool_calls</c>, <c>stop_reason</c> becomes <c>finish_reason</c>, and usage is restated in OpenAI's
/// terms (prompt tokens include cache writes and reads).
/// </summary>
internal static class OpenAiResponseTranslator
{
    /// <summary>The OpenAI <c>finish_reason</c> for an Anthropic <c>stop_reason</c>.</summary>
    public static string? FinishReason(string? stopReason) => stopReason switch
    {
        null => null,
        "tool_use" => "tool_calls",
        "max_tokens" or "model_context_window_exceeded" => "length",
        "refusal" => "content_filter",
        _ => "stop", // end_turn, stop_sequence, pause_turn
    };

    /// <summary>Translates a 2xx Messages API body; <paramref name="created"/> is the Unix time of the answer.</summary>
    public static byte[] Translate(ReadOnlySpan<byte> anthropicMessage, long created)
    {
        var reader = new Utf8JsonReader(anthropicMessage);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, OpenAiJson.WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("id", String(root, "id") ?? "chatcmpl-modelmix");
            json.WriteString("object", "chat.completion");
            json.WriteNumber("created", created);
            json.WriteString("model", String(root, "model") ?? string.Empty);
            json.WriteStartArray("choices");
            json.WriteStartObject();
            json.WriteNumber("index", 0);
            json.WriteStartObject("message");
            json.WriteString("role", "assistant");

            var text = new StringBuilder();
            var toolUses = new List<JsonElement>();
            if (root.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
            {
                foreach (var block in content.EnumerateArray())
                {
                    switch (String(block, "type"))
                    {
                        case "text":
                            text.Append(String(block, "text"));
                            break;
                        case "tool_use":
                            toolUses.Add(block);
                            break;
                    }
                }
            }

            if (text.Length > 0 || toolUses.Count == 0)
            {
                json.WriteString("content", text.ToString());
            }
            else
            {
                json.WriteNull("content");
            }

            json.WriteNull("refusal");
            if (toolUses.Count > 0)
            {
                json.WriteStartArray("tool_calls");
                foreach (var toolUse in toolUses)
                {
                    json.WriteStartObject();
                    json.WriteString("id", String(toolUse, "id"));
                    json.WriteString("type", "function");
                    json.WriteStartObject("function");
                    json.WriteString("name", String(toolUse, "name"));
                    json.WriteString("arguments", toolUse.TryGetProperty("input", out var input) ? input.GetRawText() : "{}");
                    json.WriteEndObject();
                    json.WriteEndObject();
                }

                json.WriteEndArray();
            }

            json.WriteEndObject();
            json.WriteNull("logprobs");
            if (FinishReason(String(root, "stop_reason")) is { } finish)
            {
                json.WriteString("finish_reason", finish);
            }
            else
            {
                json.WriteNull("finish_reason");
            }

            json.WriteEndObject();
            json.WriteEndArray();
            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                json.WritePropertyName("usage");
                WriteUsage(json, usage);
            }

            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// Writes OpenAI usage from Anthropic usage: <c>prompt_tokens</c> = input + cache writes + cache reads,
    /// <c>completion_tokens</c> = output, <c>prompt_tokens_details.cached_tokens</c> = cache reads.
    /// </summary>
    public static void WriteUsage(Utf8JsonWriter json, JsonElement anthropicUsage) =>
        WriteUsage(json, Count(anthropicUsage, "input_tokens"), Count(anthropicUsage, "cache_creation_input_tokens"), Count(anthropicUsage, "cache_read_input_tokens"), Count(anthropicUsage, "output_tokens"));

    /// <summary>Writes OpenAI usage from the four Anthropic counts.</summary>
    public static void WriteUsage(Utf8JsonWriter json, long input, long cacheWrite, long cacheRead, long output)
    {
        var prompt = input + cacheWrite + cacheRead;
        json.WriteStartObject();
        json.WriteNumber("prompt_tokens", prompt);
        json.WriteNumber("completion_tokens", output);
        json.WriteNumber("total_tokens", prompt + output);
        json.WriteStartObject("prompt_tokens_details");
        json.WriteNumber("cached_tokens", cacheRead);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>A token count of an Anthropic usage object, 0 when absent or null.</summary>
    public static long Count(JsonElement usage, string name) =>
        usage.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var count) ? count : 0;

    private static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
