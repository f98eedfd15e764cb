namespace ModelMix.IntegrationTests.Support;

/// <summary>Where the repository and the test's build configuration are, found from the test assembly's folder.</summary>
internal static class RepositoryPaths
{
    private static readonly DirectoryInfo TestBin = new(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));

    /// <summary>The repository root (the folder holding ModelMix.slnx).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The build configuration the tests run in (Debug or Release).</summary>
    public static string Configuration => TestBin.Parent!.Name;

    /// <summary>The target framework folder name (net10.0).</summary>
    public static string Framework => TestBin.Name;

    private static string FindRoot()
    {
        for (var dir = TestBin; dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelMix.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("could not find the repository root (ModelMix.slnx) above " + AppContext.BaseDirectory);
    }
}
