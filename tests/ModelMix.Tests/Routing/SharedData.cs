using System.Text.Json;

namespace ModelMix.Tests.Routing;

/// <summary>
/// Reads prompts from the shared routing datasets (<c>shared/data/*.jsonl</c>) at test time; the data is never
/// copied into the repository. The shared folder is <c>MODELMIX_SHARED</c> when set, else the first directory above
/// the test binaries that contains <c>shared/data</c>.
/// </summary>
internal static class SharedData
{
    private static readonly Lazy<string> s_dataDir = new(Locate);

    /// <summary>One dataset line: the prompt and the input tokens counted by the dataset's tokenizer.</summary>
    public sealed record DatasetPrompt(string Id, string Task, string Prompt, long InputTokens);

    /// <summary>The <c>shared/data</c> folder.</summary>
    public static string DataDirectory => s_dataDir.Value;

    /// <summary>Every prompt of a dataset file, in file order.</summary>
    public static IEnumerable<DatasetPrompt> Read(string fileName)
    {
        foreach (var line in File.ReadLines(Path.Combine(DataDirectory, fileName)))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            long tokens = 0;
            foreach (var candidate in root.GetProperty("candidates").EnumerateObject())
            {
                tokens = candidate.Value.GetProperty("input_tokens").GetInt64();
                break;
            }

            yield return new DatasetPrompt(
                root.GetProperty("id").GetString()!,
                root.GetProperty("task").GetString()!,
                root.GetProperty("prompt").GetString()!,
                tokens);
        }
    }

    private static string Locate()
    {
        var fromEnv = Environment.GetEnvironmentVariable("MODELMIX_SHARED");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            var data = Path.Combine(fromEnv, "data");
            return Directory.Exists(data)
                ? data
                : throw new DirectoryNotFoundException($"MODELMIX_SHARED={fromEnv} has no data folder.");
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException(
            $"No shared/data above {AppContext.BaseDirectory}; set MODELMIX_SHARED to the shared folder.");
    }
}
