namespace FakeAnthropic;

/// <summary>Resolves model aliases to the dated snapshot ids the API answers with.</summary>
internal static class ModelSnapshots
{
    private static readonly Dictionary<string, string> Snapshots = new(StringComparer.Ordinal)
    {
        ["claude-haiku-4-5"] = "claude-haiku-4-5-20251001",
        ["claude-sonnet-4-5"] = "claude-sonnet-4-5-20250929",
        ["claude-opus-4-5"] = "claude-opus-4-5-20251101",
    };

    /// <summary>The snapshot id of a known alias; any other id unchanged.</summary>
    public static string Resolve(string model) => Snapshots.TryGetValue(model, out var snapshot) ? snapshot : model;
}
