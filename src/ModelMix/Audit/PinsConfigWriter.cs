using System.Text.Json;
using System.Text.Json.Nodes;

namespace ModelMix.Audit;

/// <summary>
/// Writes recommended pins into a proxy configuration file for review (<c>ModelMix:Routing:Pins</c>, the shape
/// <c>modelmix serve --config FILE</c> reads). An existing file keeps everything else; pins for other tasks stay.
/// It never touches a running proxy: the proxy reads its configuration at start.
/// </summary>
internal static class PinsConfigWriter
{
    /// <summary>Merges the pins of the actionable recommendations into <paramref name="path"/> and returns the pins written.</summary>
    /// <param name="path">The JSON configuration file (created when missing).</param>
    /// <param name="recommendations">Only <see cref="RecommendationKind.CheaperModel"/> and <see cref="RecommendationKind.BiggerModelCheaperInTotal"/> are written.</param>
    /// <exception cref="FormatException">The existing file is not a JSON object.</exception>
    public static IReadOnlyDictionary<string, string> Write(string path, IEnumerable<Recommendation> recommendations)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(recommendations);
        JsonObject root;
        if (File.Exists(path))
        {
            try
            {
                root = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                    ?? throw new FormatException($"{path} is not a JSON object.");
            }
            catch (JsonException exception)
            {
                throw new FormatException($"{path} is not valid JSON: {exception.Message}", exception);
            }
        }
        else
        {
            root = [];
        }

        var modelMix = Child(root, "ModelMix");
        var routing = Child(modelMix, "Routing");
        var pins = Child(routing, "Pins");
        var written = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var recommendation in recommendations)
        {
            if (recommendation.Kind is RecommendationKind.CheaperModel or RecommendationKind.BiggerModelCheaperInTotal)
            {
                pins[recommendation.Task] = recommendation.Model;
                written[recommendation.Task] = recommendation.Model;
            }
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + Environment.NewLine);
        return written;
    }

    private static JsonObject Child(JsonObject parent, string name)
    {
        // Configuration keys are case-insensitive: reuse the existing spelling.
        var key = parent.Select(pair => pair.Key).FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase)) ?? name;
        if (parent[key] is JsonObject existing)
        {
            return existing;
        }

        var created = new JsonObject();
        parent[key] = created;
        return created;
    }
}
