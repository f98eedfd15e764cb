using System.Text;
using System.Text.Json.Nodes;

namespace ModelMix.Tests.Caching;

/// <summary>Builds real-shaped Messages request bodies of known estimated size for the planner tests.</summary>
internal static class Requests
{
    /// <summary>Prose whose <c>TokenEstimator.Estimate</c> is exactly <paramref name="tokens"/> (7 chars = 2 tokens).</summary>
    public static string Text(int tokens)
    {
        var builder = new StringBuilder(tokens * 4);
        while (builder.Length < tokens * 7 / 2)
        {
            builder.Append("policy ");
        }

        builder.Length = tokens * 7 / 2;
        return builder.ToString();
    }

    public static JsonObject User(string text) => new() { ["role"] = "user", ["content"] = text };

    public static JsonObject Assistant(string text) => new()
    {
        ["role"] = "assistant",
        ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text }),
    };

    public static JsonObject Body(string model, JsonNode? system, params JsonObject[] messages)
    {
        var body = new JsonObject { ["model"] = model, ["max_tokens"] = 1024 };
        if (system is not null)
        {
            body["system"] = system;
        }

        body["messages"] = new JsonArray(messages);
        return body;
    }

    public static JsonObject Tool(string name, int descriptionTokens) => new()
    {
        ["name"] = name,
        ["description"] = Text(descriptionTokens),
        ["input_schema"] = new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() },
    };

    /// <summary>Every <c>cache_control</c> object anywhere in the body.</summary>
    public static List<JsonObject> CacheControls(JsonNode node)
    {
        var found = new List<JsonObject>();
        Walk(node, found);
        return found;
    }

    private static void Walk(JsonNode? node, List<JsonObject> found)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, value) in obj)
                {
                    if (name == "cache_control" && value is JsonObject control)
                    {
                        found.Add(control);
                    }
                    else
                    {
                        Walk(value, found);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    Walk(item, found);
                }

                break;
        }
    }
}
