using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FakeAnthropic;

/// <summary>Turns fixtures into reply bodies: fresh ids, the answered model, scripted usage.</summary>
internal static class ReplyBodies
{
    /// <summary>Compact JSON that keeps non-ASCII text and '&lt;' '&gt;' as the API sends them.</summary>
    public static readonly JsonSerializerOptions Wire = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = false,
    };

    public static string Message(string fixtureText, string model, FakeUsage? usage, PreservedThinkingReply? thinking = null)
    {
        var message = JsonNode.Parse(fixtureText)!.AsObject();
        Rewrite(message, model, usage, isStreamStart: false);
        thinking?.ApplyTo(message); // leading thinking block, input_transformations (PreservedThinkingSimulator.cs)
        return message.ToJsonString(Wire);
    }

    public static IReadOnlyList<SseEvent> Stream(string fixtureText, string model, FakeUsage? usage, PreservedThinkingReply? thinking = null)
    {
        var events = FixtureStream(fixtureText, model, usage);
        return thinking is null ? events : thinking.ApplyTo(events);
    }

    private static List<SseEvent> FixtureStream(string fixtureText, string model, FakeUsage? usage)
    {
        var events = SseEvent.Parse(fixtureText);
        var result = new List<SseEvent>(events.Count);
        foreach (var ev in events)
        {
            switch (ev.Name)
            {
                case "message_start":
                {
                    var data = JsonNode.Parse(ev.Data)!.AsObject();
                    if (data["message"] is JsonObject message)
                    {
                        Rewrite(message, model, usage, isStreamStart: true);
                    }

                    result.Add(ev with { Data = data.ToJsonString(Wire) });
                    break;
                }

                case "message_delta" when usage is not null:
                {
                    var data = JsonNode.Parse(ev.Data)!.AsObject();
                    if (data["usage"] is not JsonObject deltaUsage)
                    {
                        deltaUsage = [];
                        data["usage"] = deltaUsage;
                    }

                    deltaUsage["input_tokens"] = usage.InputTokens;
                    deltaUsage["cache_creation_input_tokens"] = usage.CacheCreationInputTokens;
                    deltaUsage["cache_read_input_tokens"] = usage.CacheReadTokens;
                    deltaUsage["output_tokens"] = usage.OutputTokens;
                    if (usage.HasServerToolUse)
                    {
                        deltaUsage["server_tool_use"] = ServerToolUse(usage); // cumulative, like the other counts
                    }

                    result.Add(ev with { Data = data.ToJsonString(Wire) });
                    break;
                }

                default:
                    result.Add(ev);
                    break;
            }
        }

        return result;
    }

    public static string Error(string errorType, string message, string requestId) =>
        new JsonObject
        {
            ["type"] = "error",
            ["error"] = new JsonObject { ["type"] = errorType, ["message"] = message },
            ["request_id"] = requestId,
        }.ToJsonString(Wire);

    /// <summary>Cuts a JSON text in half so that it can no longer parse.</summary>
    public static string Truncate(string json) => json[..Math.Max(1, json.Length / 2)];

    private static void Rewrite(JsonObject message, string model, FakeUsage? usage, bool isStreamStart)
    {
        message["model"] = model;
        message["id"] = WireIds.NewMessageId();
        if (usage is null)
        {
            return;
        }

        if (message["usage"] is not JsonObject target)
        {
            target = [];
            message["usage"] = target;
        }

        // message_start carries a small output placeholder; the final count comes in message_delta.
        var output = isStreamStart && target["output_tokens"] is JsonValue placeholder
            ? Math.Min(placeholder.GetValue<long>(), usage.OutputTokens)
            : usage.OutputTokens;

        target["input_tokens"] = usage.InputTokens;
        target["cache_creation_input_tokens"] = usage.CacheCreationInputTokens;
        target["cache_read_input_tokens"] = usage.CacheReadTokens;
        target["cache_creation"] = new JsonObject
        {
            ["ephemeral_5m_input_tokens"] = usage.CacheWrite5mTokens,
            ["ephemeral_1h_input_tokens"] = usage.CacheWrite1hTokens,
        };
        target["output_tokens"] = output;
        target["service_tier"] = usage.ServiceTier;
        if (usage.Speed is not null)
        {
            target["speed"] = usage.Speed;
        }

        if (usage.InferenceGeo is not null)
        {
            target["inference_geo"] = usage.InferenceGeo;
        }

        if (usage.HasServerToolUse && !isStreamStart)
        {
            target["server_tool_use"] = ServerToolUse(usage);
        }
    }

    private static JsonObject ServerToolUse(FakeUsage usage) => new()
    {
        ["web_search_requests"] = usage.WebSearchRequests,
        ["web_fetch_requests"] = usage.WebFetchRequests,
    };
}
