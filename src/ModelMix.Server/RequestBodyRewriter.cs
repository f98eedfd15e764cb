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
}
