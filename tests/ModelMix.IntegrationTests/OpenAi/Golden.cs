using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ModelMix.IntegrationTests.OpenAi;

/// <summary>
/// Golden files of the OpenAI translations (<c>OpenAi/Golden/*</c> in the source tree): JSON written indented, with the
/// per-run values (ids made from FakeAnthropic's fresh message and tool ids, Unix times) replaced by placeholders.
/// <c>MODELMIX_UPDATE_GOLDEN=1</c> rewrites the files from the actual output instead of comparing (review the diff).
/// </summary>
internal static partial class Golden
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Compares <paramref name="json"/> (normalized, indented) with the golden file <paramref name="name"/>.</summary>
    public static void AssertJson(string name, JsonNode json) => AssertText(name, Format(json));

    /// <summary>Compares SSE text (each event's name and its data, normalized and indented) with the golden file.</summary>
    public static void AssertEvents(string name, IEnumerable<(string Event, JsonNode Data)> events) =>
        AssertText(name, string.Join("\n", events.Select(e => $"event: {e.Event}\n{Format(e.Data)}\n")));

    private static string Format(JsonNode json) => Normalize(json.ToJsonString(Indented));

    /// <summary>Replaces ids that FakeAnthropic makes fresh per reply (msg_/toolu_ tails and what is derived from them) and Unix times.</summary>
    private static string Normalize(string text)
    {
        text = CreatedAt().Replace(text, "\"$1\": 1700000000");
        text = MessageTail().Replace(text, "${prefix}MSGID");
        return ToolTail().Replace(text, "${prefix}TOOLID");
    }

    private static void AssertText(string name, string actual)
    {
        var path = Path.Combine(Folder(), name);
        if (Environment.GetEnvironmentVariable("MODELMIX_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(path, actual);
            return;
        }

        Assert.True(File.Exists(path), $"Golden file {path} is missing; run with MODELMIX_UPDATE_GOLDEN=1 to write it, and review it.");
        var expected = File.ReadAllText(path).ReplaceLineEndings("\n");
        Assert.True(expected == actual, $"{name} differs from its golden file.\nexpected:\n{expected}\nactual:\n{actual}");
    }

    private static string Folder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "ModelMix.IntegrationTests", "OpenAi", "Golden");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"tests/ModelMix.IntegrationTests/OpenAi/Golden not found above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex("\"(created_at|created)\": \\d+")]
    private static partial Regex CreatedAt();

    [GeneratedRegex("(?<prefix>\\b(?:msg|resp)_)[A-Za-z0-9]{20,}")]
    private static partial Regex MessageTail();

    [GeneratedRegex("(?<prefix>\\b(?:toolu|fc)_)[A-Za-z0-9]{20,}")]
    private static partial Regex ToolTail();
}
