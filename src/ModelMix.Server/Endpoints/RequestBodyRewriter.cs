using System.Text.Json;

namespace ModelMix.Server;

/// <summary>
/// Rewrites only what routing must change in a request body, leaving every other byte as the client sent it (fields
/// the proxy does not know pass through untouched).
/// </summary>
internal static class RequestBodyRewriter
{
    /// <summary>Returns the body with the top-level <c>model</c> value replaced by <paramref name="model"/>.</summary>
    /// <exception cref="InvalidOperationException">The body has no top-level string <c>model</c> (it was checked before).</exception>
    public static byte[] ReplaceModel(byte[] body, string model)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
        while (reader.Read())
        {
            if (reader.CurrentDepth == 1 && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("model"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                {
                    break;
                }

                // A string token spans its quotes: the raw (possibly escaped) value plus two bytes.
                var start = (int)reader.TokenStartIndex;
                var end = start + reader.ValueSpan.Length + 2;
                var replacement = JsonSerializer.SerializeToUtf8Bytes(model);
                var result = new byte[body.Length - (end - start) + replacement.Length];
                body.AsSpan(0, start).CopyTo(result);
                replacement.CopyTo(result.AsSpan(start));
                body.AsSpan(end).CopyTo(result.AsSpan(start + replacement.Length));
                return result;
            }

            if (reader.CurrentDepth >= 1 && reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
            }
        }

        throw new InvalidOperationException("The request body has no top-level string 'model' to rewrite.");
    }
    /// <summary>
    /// Returns the body with <c>output_config.effort</c> set to <paramref name="effort"/> (a routing decision's effort):
    /// an existing value is replaced, an existing <c>output_config</c> gains the member first, and a body without one
    /// gains <c>"output_config":{"effort":…}</c> as its first member. Every other byte stays as sent: system, tools and
    /// messages (the prefix the prompt cache and the preserved-thinking check compare) are untouched.
    /// </summary>
    /// <param name="body">The checked request body (a JSON object).</param>
    /// <param name="effort">The wire name, e.g. <c>low</c>.</param>
    public static byte[] SetEffort(byte[] body, string effort)
    {
        var value = JsonSerializer.SerializeToUtf8Bytes(effort);
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
        var rootStart = -1;
        while (reader.Read())
        {
            if (reader.CurrentDepth == 0 && reader.TokenType == JsonTokenType.StartObject)
            {
                rootStart = (int)reader.TokenStartIndex;
                continue;
            }

            if (reader.CurrentDepth == 1 && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("output_config"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null)
                {
                    var at = (int)reader.TokenStartIndex;
                    return Splice(body, at, at + 4, [.. "{\"effort\":"u8, .. value, .. "}"u8]);
                }

                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    return body; // not an object: the upstream answers the malformed request as it is
                }

                var objectStart = (int)reader.TokenStartIndex;
                var hasMembers = false;
                while (reader.Read() && reader.CurrentDepth >= 2)
                {
                    if (reader.CurrentDepth == 2 && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        hasMembers = true;
                        if (reader.ValueTextEquals("effort"u8))
                        {
                            reader.Read();
                            var start = (int)reader.TokenStartIndex;
                            reader.Skip();
                            var end = (int)reader.BytesConsumed;
                            return Splice(body, start, end, value);
                        }
                    }
                    else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    {
                        reader.Skip();
                    }
                }

                var insert = objectStart + 1;
                return Splice(body, insert, insert, [.. "\"effort\":"u8, .. value, .. (hasMembers ? ","u8 : ""u8)]);
            }

            if (reader.CurrentDepth >= 1 && reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
            }
        }

        if (rootStart < 0)
        {
            throw new InvalidOperationException("The request body is not a JSON object.");
        }

        return Splice(body, rootStart + 1, rootStart + 1, [.. "\"output_config\":{\"effort\":"u8, .. value, .. "},"u8]);
    }

    private static byte[] Splice(byte[] body, int start, int end, ReadOnlySpan<byte> replacement)
    {
        var result = new byte[body.Length - (end - start) + replacement.Length];
        body.AsSpan(0, start).CopyTo(result);
        replacement.CopyTo(result.AsSpan(start));
        body.AsSpan(end).CopyTo(result.AsSpan(start + replacement.Length));
        return result;
    }
}
