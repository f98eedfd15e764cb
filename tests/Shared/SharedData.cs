namespace ModelMix.Tests.Shared;

/// <summary>
/// Locates the routing datasets in ../shared/data (or $MODELMIX_SHARED/data), the same way FakeAnthropic's
/// SharedFixtures finds the wire fixtures: they are read in place, never copied into the repository.
/// </summary>
internal static class SharedData
{
    public static string File(string name)
    {
        var fromEnv = Environment.GetEnvironmentVariable("MODELMIX_SHARED");
        if (!string.IsNullOrWhiteSpace(fromEnv))
        {
            return Path.Combine(Path.GetFullPath(fromEnv), "data", name);
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data", name);
            if (System.IO.File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"No shared/data/{name} above {AppContext.BaseDirectory}; set MODELMIX_SHARED to the shared folder.");
    }
}
