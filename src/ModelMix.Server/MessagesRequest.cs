using System.Text.Json;

namespace ModelMix.Server;

/// <summary>
/// What the proxy reads from a <c>POST /v1/messages</c> body: the few fields it needs, checked like the API checks
/// them. The body itself is forwarded as it came.
/// </summary>
internal sealed record MessagesRequest(string Model, long MaxTokens, bool Stream, int MessageCount)
{
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
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = "The request body must be a JSON object.";
                return false;
            }

            if (!root.TryGetProperty("model", out var model))
            {
                error = "model: Field required";
                return false;
            }

            if (model.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(model.GetString()))
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

            request = new MessagesRequest(model.GetString()!, maxTokensValue, stream, messages.GetArrayLength());
            error = null;
            return true;
        }
    }
}
