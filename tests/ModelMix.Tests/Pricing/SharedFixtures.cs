namespace ModelMix.Tests.Pricing;

/// <summary>
/// Finds the shared fixture folder: <c>MODELMIX_SHARED</c> when set, else the first directory above the test
/// binaries that contains <c>shared/fixtures/anthropic</c>.
/// </summary>
internal static class SharedFixtures
{
    private static readonly Lazy<string> s_shared = new(Locate);

    /// <summary>The shared folder (the one holding <c>fixtures/</c>).</summary>
    public static string SharedRoot => s_shared.Value;

    /// <summary>The full path of a file under <c>fixtures/anthropic</c>, e.g. <c>messages/response-cache-write.json</c>.</summary>
    public static string Anthropic(string relativePath) =>
        Path.Combine(SharedRoot, "fixtures", "anthropic", relativePath.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>The text of a file under <c>fixtures/anthropic</c>.</summary>
    public static string ReadAnthropic(string relativePath) => File.ReadAllText(Anthropic(relativePath));

    private static string Locate()
    {
        var fromEnv = Environment.GetEnvironmentVariable("MODELMIX_SHARED");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            if (Directory.Exists(Path.Combine(fromEnv, "fixtures", "anthropic")))
            {
                return fromEnv;
            }

            throw new DirectoryNotFoundException($"MODELMIX_SHARED={fromEnv} has no fixtures/anthropic folder.");
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared");
            if (Directory.Exists(Path.Combine(candidate, "fixtures", "anthropic")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException(
            $"No shared/fixtures/anthropic above {AppContext.BaseDirectory}; set MODELMIX_SHARED to the shared folder.");
    }
}
