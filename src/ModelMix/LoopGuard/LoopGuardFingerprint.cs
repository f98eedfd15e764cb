using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace ModelMix.Pipeline;

/// <summary>
/// The fingerprint of a tool call: its function name and its arguments as canonical JSON (object keys sorted),
/// hashed, so the same call with its arguments in another order is the same call and memory per call stays small.
/// </summary>
internal static class LoopGuardFingerprint
{
    /// <summary>The fingerprint of <paramref name="call"/>.</summary>
    public static string Of(FunctionCallContent call)
    {
        ArgumentNullException.ThrowIfNull(call);
        var text = new StringBuilder(call.Name).Append('\n');
        if (call.Arguments is { Count: > 0 } arguments)
        {
            var node = JsonSerializer.SerializeToNode(arguments, AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IDictionary<string, object?>)));
            WriteCanonical(node, text);
        }

        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static void WriteCanonical(JsonNode? node, StringBuilder text)
    {
        switch (node)
        {
            case null:
                text.Append("null");
                break;
            case JsonObject obj:
                text.Append('{');
                var first = true;
                foreach (var (key, value) in obj.OrderBy(static p => p.Key, StringComparer.Ordinal))
                {
                    if (!first)
                    {
                        text.Append(',');
                    }

                    first = false;
                    text.Append(JsonValue.Create(key).ToJsonString()).Append(':');
                    WriteCanonical(value, text);
                }

                text.Append('}');
                break;
            case JsonArray array:
                text.Append('[');
                for (var i = 0; i < array.Count; i++)
                {
                    if (i > 0)
                    {
                        text.Append(',');
                    }

                    WriteCanonical(array[i], text);
                }

                text.Append(']');
                break;
            default:
                text.Append(node.ToJsonString());
                break;
        }
    }
}
