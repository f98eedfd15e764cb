using System.Reflection;

namespace ModelMix.Hosting;

/// <summary>ModelMix's version, from the one place it is set (<c>VersionPrefix</c> in Directory.Build.props).</summary>
public static class ModelMixVersion
{
    /// <summary>The version without build metadata, e.g. <c>0.9.0</c>.</summary>
    public static string Current { get; } = Read();

    /// <summary>The User-Agent of ModelMix's own upstream calls: <c>ModelMix/</c><see cref="Current"/>.</summary>
    public static string UserAgent { get; } = "ModelMix/" + Current;

    private static string Read()
    {
        var informational = typeof(ModelMixVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(ModelMixVersion).Assembly.GetName().Version?.ToString(3)
            ?? "0.0.0";
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? informational : informational[..plus];
    }
}
