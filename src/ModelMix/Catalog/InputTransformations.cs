using System.Text.Json;

namespace ModelMix.Catalog;

/// <summary>
/// Reads the response's <c>input_transformations</c>: what the API changed in the prompt before the model saw it. An
/// entry of type <c>thinking_dropped</c> is a thinking block the API removed (the current model cannot read it, or its
/// prefix changed), so that reasoning was paid for and not reused. The array is a sibling of <c>usage</c> in a
/// Message, and inside <c>message_start</c>'s message when streaming (a final <c>message_delta</c> may carry a
/// replacement). Unknown entry types are ignored. Source:
/// https://platform.claude.com/docs/en/build-with-claude/preserved-thinking
/// </summary>
internal static class InputTransformations
{
    /// <summary>The entry type of a dropped thinking block.</summary>
    public const string ThinkingDropped = "thinking_dropped";

    /// <summary>Counts <c>thinking_dropped</c> entries; the reader is on the array's start and ends on its end.</summary>
    /// <param name="reader">A reader positioned on <c>StartArray</c> (any other token is skipped and counts 0).</param>
    public static int CountDroppedThinking(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return 0;
        }

        var count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }

            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var isType = reader.ValueTextEquals("type"u8);
                reader.Read();
                if (isType && reader.TokenType == JsonTokenType.String && reader.ValueTextEquals(ThinkingDropped))
                {
                    count++;
                }

                reader.Skip();
            }
        }

        return count;
    }

    /// <summary>Counts <c>thinking_dropped</c> entries in a parsed array (0 for anything else).</summary>
    /// <param name="array">The <c>input_transformations</c> value.</param>
    public static int CountDroppedThinking(JsonElement array)
    {
        if (array.ValueKind != JsonValueKind.Array)
        {
            return 0;
        }

        var count = 0;
        foreach (var entry in array.EnumerateArray())
        {
            if (entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("type", out var type)
                && type.ValueKind == JsonValueKind.String && type.ValueEquals(ThinkingDropped))
            {
                count++;
            }
        }

        return count;
    }
}
