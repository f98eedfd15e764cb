using System.Text.Json;
using ModelMix.Catalog;
using ModelMix.Pricing;

namespace ModelMix.Server;

/// <summary>
/// Watches the bytes of an Anthropic event stream as they are relayed, without changing them, and keeps what the
/// ledger needs: the model, the usage from <c>message_start</c> and <c>message_delta</c>, whether the stream ended
/// with <c>message_stop</c>, and any <c>error</c> event.
/// </summary>
internal sealed class SseUsageTap
{
    private readonly SseEventReader _events = new();

    /// <summary>The model named in <c>message_start</c>.</summary>
    public string? Model { get; private set; }

    /// <summary>The error type of an <c>error</c> event, if one arrived.</summary>
    public string? ErrorType { get; private set; }

    /// <summary>Whether <c>message_stop</c> arrived: the stream completed.</summary>
    public bool Completed { get; private set; }

    /// <summary>How many events have been seen.</summary>
    public int Events { get; private set; }

    /// <summary>Thinking blocks the API dropped from the prompt (<c>input_transformations</c>, see <see cref="InputTransformations"/>).</summary>
    public int ThinkingBlocksDropped { get; private set; }

    /// <summary>Usage so far: <c>message_start</c>'s counts overridden by the cumulative <c>message_delta</c> counts.</summary>
    public TokenUsage Usage { get; private set; }

    /// <summary>Feeds the next chunk of relayed bytes.</summary>
    public void Observe(ReadOnlySpan<byte> chunk) => _events.Feed(chunk, OnEvent);

    private void OnEvent(ReadOnlySpan<byte> data)
    {
        Events++;
        if (data.IsEmpty)
        {
            return;
        }

        try
        {
            using var document = JsonDocument.Parse(data.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var typeElement))
            {
                return;
            }

            switch (typeElement.GetString())
            {
                case "message_start" when root.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object:
                    if (message.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String)
                    {
                        Model = model.GetString();
                    }

                    if (message.TryGetProperty("usage", out var startUsage) && startUsage.ValueKind == JsonValueKind.Object)
                    {
                        Usage = AnthropicUsage.FromJson(startUsage);
                    }

                    if (message.TryGetProperty("input_transformations", out var transformations))
                    {
                        ThinkingBlocksDropped = InputTransformations.CountDroppedThinking(transformations);
                    }

                    break;
                case "message_delta":
                    if (root.TryGetProperty("usage", out var deltaUsage) && deltaUsage.ValueKind == JsonValueKind.Object)
                    {
                        Usage = AnthropicUsage.MergeDelta(Usage, deltaUsage);
                    }

                    if (root.TryGetProperty("input_transformations", out var replaced))
                    {
                        // Only after a server-side model fallback mid-stream: the serving model's entries replace message_start's.
                        ThinkingBlocksDropped = InputTransformations.CountDroppedThinking(replaced);
                    }

                    break;
                case "message_stop":
                    Completed = true;
                    break;
                case "error":
                    ErrorType = root.TryGetProperty("error", out var error) && error.TryGetProperty("type", out var errorType)
                        ? errorType.GetString() ?? "api_error"
                        : "api_error";
                    break;
            }
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException or FormatException or ArgumentException)
        {
            // A malformed event is relayed as it is; the tap only loses what it could not read.
        }
    }
}
