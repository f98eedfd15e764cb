using Xunit.Abstractions;

namespace ModelMix.IntegrationTests.Samples;

/// <summary>
/// The <c>modelmix</c> tool as a user gets it (README: <c>dotnet pack src/ModelMix.Cli</c>, then <c>dotnet tool install</c>
/// from the local pack): the package stays under 40 MB (issue 22: it was 125 MB with per-platform graphics natives), and
/// the installed command runs and names itself <c>modelmix</c>. The sizes go to the test output (docs/library.md,
/// "Packages").
/// </summary>
public sealed class ToolPackageTests(ITestOutputHelper output)
{
    private const long MaxToolPackageBytes = 40L * 1024 * 1024;

    [Fact]
    public async Task The_tool_package_is_under_40_mb_and_installs_a_working_modelmix_command()
    {
        using var build = SampleBuild.Create("tool");
        var (feed, version) = (build.Feed, build.Version);
        await build.PackAsync("ModelMix.Cli");

        var package = new FileInfo(Path.Combine(feed, $"ModelMix.Cli.{version}.nupkg"));
        Assert.True(package.Exists, "no tool package in " + feed + ": " + string.Join(", ", Directory.EnumerateFiles(feed).Select(Path.GetFileName)));
        output.WriteLine($"ModelMix.Cli.nupkg: {package.Length} bytes ({package.Length / 1024.0 / 1024.0:0.0} MB)");
        Assert.True(package.Length < MaxToolPackageBytes, $"the tool package is {package.Length / 1024.0 / 1024.0:0.0} MB, over 40 MB");

        // Installed from the local pack alone (the tool's dependencies are inside its package: no other source needed).
        var tools = Path.Combine(build.Folder, "tools");
        await SampleBuild.RunAsync(build.Folder, "dotnet", "tool", "install", "--tool-path", tools, "--add-source", feed, "--version", version, "ModelMix.Cli");
        var installed = Directory.EnumerateFiles(tools, "*", SearchOption.AllDirectories).Sum(file => new FileInfo(file).Length);
        output.WriteLine($"installed: {installed} bytes ({installed / 1024.0 / 1024.0:0.0} MB)");

        var command = Path.Combine(tools, "modelmix");
        Assert.StartsWith(version, (await SampleBuild.RunAsync(build.Folder, command, "--version")).Trim(), StringComparison.Ordinal);
        var help = await SampleBuild.RunAsync(build.Folder, command, "--help");
        Assert.Contains("modelmix", help, StringComparison.Ordinal);
        Assert.DoesNotContain("ModelMix.Cli", help, StringComparison.Ordinal);
    }
}
