using System.Text;
using System.Text.Json;

namespace ModelMix.Server;

/// <summary>
/// What the cascade's verifier needs from a tier's answer, read without changing its bytes: the text of its text
/// blocks, and whether it is a tool call (a step of the client's agent loop, kept on its tier without a rating).
/// Reads both a Messages API body and a complete event stream.
/// </summary>
internal readonly record struct ProxyCascadeAnswer(string Text, bool IsToolCall)
{
    /// <summary>Reads a non-streaming message body.</summary>
    public static ProxyCascadeAnswer FromMessage(byte[] body)
    {
        var text = new StringBuilder();
        var toolCall = false;
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            toolCall = IsToolUse(root, "stop_reason");
            if (root.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
            {
                foreach (var block in content.EnumerateArray())
                {
                    if (block.ValueKind != JsonValueKind.Object || !block.TryGetProperty("type", out var type))
                    {
                        continue;
                    }

                    if (type.ValueEquals("tool_use"u8))
                    {
                        toolCall = true;
                    }
                    else if (type.ValueEquals("text"u8) && block.TryGetProperty("text", out var blockText) && blockText.ValueKind == JsonValueKind.String)
                    {
                        text.Append(blockText.GetString());
                    }
                }
            }
        }
        catch (JsonException)
        {
            // The forwarder has already checked that the body is a message; nothing more to read.
        }

        return new ProxyCascadeAnswer(text.ToString(), toolCall);
    }

    /// <summary>Reads a complete event stream: <c>text_delta</c>s, <c>tool_use</c> blocks and the stop reason.</summary>
    public static ProxyCascadeAnswer FromStream(byte[] sse)
    {
        var text = new StringBuilder();
        var toolCall = false;
        foreach (var line in Encoding.UTF8.GetString(sse).Split('\n'))
        {
            var trimmed = line.TrimEnd('\r');
            if (!trimmed.StartsWith("data:", StringComparison.Ordinal))
            {
                continue;
            }

            try
            {
                using var document = JsonDocument.Parse(trimmed.AsMemory(5));
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type))
                {
                    continue;
                }

                if (type.ValueEquals("content_block_start"u8) && root.TryGetProperty("content_block", out var block)
                    && block.TryGetProperty("type", out var blockType) && blockType.ValueEquals("tool_use"u8))
                {
                    toolCall = true;
                }
                else if (type.ValueEquals("content_block_delta"u8) && root.TryGetProperty("delta", out var delta)
                    && delta.TryGetProperty("type", out var deltaType) && deltaType.ValueEquals("text_delta"u8)
                    && delta.TryGetProperty("text", out var deltaText) && deltaText.ValueKind == JsonValueKind.String)
                {
                    text.Append(deltaText.GetString());
                }
                else if (type.ValueEquals("message_delta"u8) && root.TryGetProperty("delta", out var messageDelta) && IsToolUse(messageDelta, "stop_reason"))
                {
                    toolCall = true;
                }
            }
            catch (JsonException)
            {
                // An unreadable event is relayed as it came; only its text is missing here.
            }
        }

        return new ProxyCascadeAnswer(text.ToString(), toolCall);
    }

    private static bool IsToolUse(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value)
        && value.ValueKind == JsonValueKind.String && value.ValueEquals("tool_use"u8);
}
