namespace FakeAnthropic;

/// <summary>
/// Locates the repository's shared folder (wire-format fixtures and data sets) so tests and the fake
/// server read the same files wherever the build output lands.
/// </summary>
public static class SharedFixtures
{
    /// <summary>Environment variable that, when set, names the shared folder directly.</summary>
    public const string EnvironmentVariable = "MODELMIX_SHARED";

    private static readonly Lazy<string> SharedDir = new(LocateShared, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The Anthropic wire-format fixtures folder (<c>shared/fixtures/anthropic</c>).</summary>
    public static string Root => Path.Combine(SharedDir.Value, "fixtures", "anthropic");

    /// <summary>The shared data folder (<c>shared/data</c>).</summary>
    public static string DataDir => Path.Combine(SharedDir.Value, "data");

    /// <summary>Reads a fixture by its path relative to <see cref="Root"/> (an absolute path is read as is).</summary>
    public static string Read(string relativePath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(relativePath);
        var path = Path.Combine(Root, relativePath.Replace('/', Path.DirectorySeparatorChar));
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Fixture '{relativePath}' not found under '{Root}'.", path);
        }

        return File.ReadAllText(path);
    }

    private static string LocateShared()
    {
        var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv))
        {
            var full = Path.GetFullPath(fromEnv);
            if (!Directory.Exists(Path.Combine(full, "fixtures", "anthropic")))
            {
                throw new DirectoryNotFoundException(
                    $"{EnvironmentVariable}='{fromEnv}' does not contain fixtures/anthropic.");
            }

            return full;
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
            $"No 'shared/fixtures/anthropic' folder above '{AppContext.BaseDirectory}'; set {EnvironmentVariable} to the shared folder.");
    }
}
