using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ModelMix.Server.OpenAi;

/// <summary>JSON writing shared by the translations: compact, non-ASCII text kept as UTF-8 like both APIs send it.</summary>
internal static class OpenAiJson
{
    /// <summary>Writer options: compact, relaxed escaping (the output is JSON, never HTML).</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Serializes a node to UTF-8 JSON.</summary>
    public static byte[] ToUtf8(JsonNode node)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            node.WriteTo(json);
        }

        return buffer.ToArray();
    }
}
