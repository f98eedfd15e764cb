using System.Diagnostics;
using FakeAnthropic;
using Microsoft.Data.Sqlite;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Samples;

/// <summary>
/// samples/HostedApp, built as an adopting app would build it: against the packed ModelMix package (a fresh version
/// each run, so no cached package stands in for it), run against FakeAnthropic: one call through the pipeline, a normal
/// stop, and the ledger row is there.
/// </summary>
public sealed class SampleAppTests
{
    [Fact]
    public async Task The_hosted_sample_built_from_the_package_records_its_call_and_stops_cleanly()
    {
        using var dir = new TempDirectory();
        var feed = Path.Combine(dir.Path, "feed");
        var root = RepositoryPaths.Root;
        // The repository's VersionPrefix with a fresh suffix: every assembly of the packages (ModelMix and ModelMix.Sqlite,
        // which references it) keeps the one assembly version, whichever build of the core the second pack compiled against.
        var version = $"{VersionPrefix(root)}-sample{DateTime.UtcNow:yyyyMMddHHmmssfff}";

        // Packed with their bin/obj under the temp folder (--artifacts-path): a pack in the checkout's own bin/obj rebuilt
        // src/ModelMix at the sample's version while other tests ran the CLI, and a later incremental build copied that
        // ModelMix.dll beside the CLI (CI: "Could not load file or assembly 'ModelMix, Version=0.9.0.0'").
        await RunAsync(root, "dotnet", "pack", Path.Combine(root, "src", "ModelMix", "ModelMix.csproj"), "-c", "Release", "-o", feed, $"-p:Version={version}", "--artifacts-path", Path.Combine(dir.Path, "artifacts"));
        await RunAsync(root, "dotnet", "pack", Path.Combine(root, "src", "ModelMix.Sqlite", "ModelMix.Sqlite.csproj"), "-c", "Release", "-o", feed, $"-p:Version={version}", "--artifacts-path", Path.Combine(dir.Path, "artifacts"));
        // The sample's own obj/bin under the temp folder: parallel runs and the checkout stay clean.
        var output = Path.Combine(dir.Path, "app");
        await RunAsync(root, "dotnet", "build", Path.Combine(root, "samples", "HostedApp", "HostedApp.csproj"), "-c", "Release", "-o", output,
            $"-p:ModelMixVersion={version}", $"-p:RestoreAdditionalProjectSources={feed}", $"-p:BaseIntermediateOutputPath={Path.Combine(dir.Path, "obj")}{Path.DirectorySeparatorChar}");

        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.SetDefault(FakeReply.Default.WithUsage(new FakeUsage(1000, 200)));
        var db = Path.Combine(dir.Path, "sample.db");
        var printed = await RunAsync(output, "dotnet", [Path.Combine(output, "HostedApp.dll"), "Say hello"], new Dictionary<string, string>
        {
            ["Anthropic__BaseUrl"] = fake.BaseUrl.ToString().TrimEnd('/'),
            ["ANTHROPIC_API_KEY"] = "sk-sample-test-key",
            ["ModelMix__Db"] = db,
        });

        // appsettings.json pins the sample's task label (triage) to the haiku tier, Claude Haiku 5.5 at $0.10 / $0.50 per million tokens
        // (prices.json, pricing page): 1000 × 0.10/1e6 + 200 × 0.50/1e6 = $0.0001 + $0.0001 = $0.0002.
        Assert.True(printed.Contains("routed to claude-haiku-5-5 because", StringComparison.Ordinal), printed);
        // ModelMix's spans reached the console exporter, tagged with the decision.
        Assert.Contains("Activity.DisplayName:        modelmix.request", printed, StringComparison.Ordinal);
        Assert.Contains("modelmix.routed_model: claude-haiku-5-5", printed, StringComparison.Ordinal);
        Assert.Equal(1, fake.MessageCount);
        await using var store = new SqliteLedgerStore(db);
        await store.MigrateAsync();
        var records = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(new LedgerQuery()))
        {
            records.Add(record);
        }

        var row = Assert.Single(records); // recorded and committed by the normal stop
        Assert.Equal((LedgerStatus.Ok, "claude-haiku-5-5", 1000L, 200L), (row.Status, row.RoutedModel, row.Usage.InputTokens, row.Usage.OutputTokens));
        Assert.Equal(0.0002m, row.Cost!.Value.Total);
        // The answer carries the exact cost it was recorded at.
        var printedCost = System.Text.RegularExpressions.Regex.Match(printed, @"cost \$([0-9.]+)").Groups[1].Value;
        Assert.Equal(0.0002m, decimal.Parse(printedCost, System.Globalization.CultureInfo.InvariantCulture));
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task A_routing_only_app_built_from_the_core_package_gets_no_database_driver()
    {
        using var dir = new TempDirectory();
        var feed = Path.Combine(dir.Path, "feed");
        var version = $"0.0.0-routing{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        var root = RepositoryPaths.Root;

        await RunAsync(root, "dotnet", "pack", Path.Combine(root, "src", "ModelMix", "ModelMix.csproj"), "-c", "Release", "-o", feed, $"-p:Version={version}", "--artifacts-path", Path.Combine(dir.Path, "artifacts"));
        var output = Path.Combine(dir.Path, "app");
        await RunAsync(root, "dotnet", "build", Path.Combine(root, "samples", "RoutingOnly", "RoutingOnly.csproj"), "-c", "Release", "-o", output,
            $"-p:ModelMixVersion={version}", $"-p:RestoreAdditionalProjectSources={feed}", $"-p:BaseIntermediateOutputPath={Path.Combine(dir.Path, "obj")}{Path.DirectorySeparatorChar}");

        Assert.True(File.Exists(Path.Combine(output, "ModelMix.dll")), "the core assembly is in the output");
        var drivers = Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories)
            .Select(file => Path.GetRelativePath(output, file))
            .Where(file => file.Contains("Npgsql", StringComparison.OrdinalIgnoreCase) || file.Contains("sqlite", StringComparison.OrdinalIgnoreCase)
                || file.StartsWith("runtimes", StringComparison.Ordinal))
            .ToList();
        Assert.True(drivers.Count == 0, "database drivers in a routing-only output: " + string.Join(", ", drivers));
        Assert.Contains("priced:", await RunAsync(output, "dotnet", Path.Combine(output, "RoutingOnly.dll")), StringComparison.Ordinal);
    }

    private static string VersionPrefix(string root) =>
        System.Text.RegularExpressions.Regex.Match(File.ReadAllText(Path.Combine(root, "Directory.Build.props")), "<VersionPrefix>([^<]+)</VersionPrefix>").Groups[1].Value;

    private static Task<string> RunAsync(string workingDirectory, string file, params string[] arguments) =>
        RunAsync(workingDirectory, file, arguments, new Dictionary<string, string>());

    private static async Task<string> RunAsync(string workingDirectory, string file, string[] arguments, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{await stdout}\n{await stderr}");
        return await stdout;
    }
}
