using System.Text.Json;

namespace ModelMix.Tests.Cli;

/// <summary>
/// The runtime settings `modelmix` ships in its runtimeconfig.json (ModelMix.Cli.csproj): each was measured for the
/// proxy (docs/performance.md) and is easy to lose in a project-file edit.
/// </summary>
public sealed class RuntimeSettingsTests
{
    [Theory]
    [InlineData("System.GC.RetainVM", "true")]
    [InlineData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit", "0")]
    [InlineData("System.Net.Http.EnableActivityPropagation", "false")]
    public void The_cli_runtimeconfig_carries_the_measured_runtime_settings(string name, string expected)
    {
        // The referenced CLI's runtimeconfig.json is copied beside the test assembly.
        var path = Path.Combine(AppContext.BaseDirectory, "ModelMix.Cli.runtimeconfig.json");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var properties = document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        Assert.True(properties.TryGetProperty(name, out var value), $"{name} is missing from {path}");
        Assert.Equal(expected, value.GetRawText());
    }
}
