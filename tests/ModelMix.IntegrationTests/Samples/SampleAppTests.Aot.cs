using FakeAnthropic;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Samples;

/// <summary>
/// samples/AotApp, published with NativeAOT (<c>dotnet publish -r linux-x64</c>, <c>PublishAot</c> in its project) against
/// the packed ModelMix and ModelMix.Sqlite packages, and its native binary run against FakeAnthropic on loopback: one call
/// routed through the pipeline over the official Anthropic SDK, a normal stop, and the ledger row is there. The publish
/// warns only for the SDK's assembly (IL2104, IL3053: docs/library.md, "Trimming and NativeAOT"); any other trim or AOT
/// warning fails it (the sample treats warnings as errors). Needs clang and zlib1g-dev (./test.sh installs them); the
/// ILCompiler packages come from NuGet with the publish's restore.
/// Its own test class, so its own xUnit collection: the native compile (minutes, docs/library.md) runs beside the rest of
/// the suite, not after the other sample tests.
/// </summary>
public sealed class NativeAotSampleTests
{
    [Fact]
    public async Task The_nativeaot_sample_routes_a_call_through_the_sdk_and_records_it()
    {
        using var build = SampleBuild.Create("aot");
        await build.PackAsync("ModelMix.Sqlite", "ModelMix");

        // The native compile takes minutes on a 2-core machine (docs/library.md, "Trimming and NativeAOT"): a generous limit.
        var (output, published) = await build.PublishSampleAsync("AotApp", TimeSpan.FromMinutes(45), "-r", "linux-x64");
        var warnings = published.Split('\n')
            .Select(line => System.Text.RegularExpressions.Regex.Match(line, @"warning (IL\d+|[A-Z]+\d+): (Assembly '[^']+')?"))
            .Where(match => match.Success)
            .Select(match => $"{match.Groups[1].Value} {match.Groups[2].Value}".Trim())
            .ToHashSet();
        // Only the SDK's own: its reflection-based JSON (IL2104 trim, IL3053 AOT), reported once for its assembly.
        Assert.True(warnings.SetEquals(["IL2104 Assembly 'Anthropic'", "IL3053 Assembly 'Anthropic'"]), "publish warnings: " + string.Join(", ", warnings) + "\n" + published);
        var binary = Path.Combine(output, "AotApp");
        Assert.True(File.Exists(binary), "no native binary in " + output);
        Assert.False(File.Exists(Path.Combine(output, "AotApp.dll")), "a NativeAOT publish leaves no IL assembly to run");

        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.SetDefault(FakeReply.Default.WithUsage(new FakeUsage(1000, 200)));
        var db = Path.Combine(build.Folder, "aot.db");
        var printed = await SampleBuild.RunAsync(output, binary, ["Say hello"], new Dictionary<string, string>
        {
            ["Anthropic__BaseUrl"] = fake.BaseUrl.ToString().TrimEnd('/'),
            ["ANTHROPIC_API_KEY"] = "sk-aot-sample-key",
            ["ModelMix__Db"] = db,
        });

        // appsettings.json pins the task label (triage) to the haiku tier, Claude Haiku 5.5 at $0.10 / $0.50 per million
        // tokens (prices.json, pricing page): 1000 × 0.10/1e6 + 200 × 0.50/1e6 = $0.0001 + $0.0001 = $0.0002.
        Assert.True(printed.Contains("routed to claude-haiku-5-5 because", StringComparison.Ordinal), printed);
        Assert.Equal(1, fake.MessageCount);
        // The request as the SDK serialized it in the native binary (its JSON through the sample's converters).
        var sent = fake.MessageRequests.Single().Json!;
        Assert.Equal("claude-haiku-5-5", (string?)sent["model"]);
        Assert.Contains("Say hello", sent["messages"]!.ToJsonString(), StringComparison.Ordinal);
        var row = Assert.Single(await SampleBuild.ReadLedgerAsync(db)); // recorded and committed by the normal stop
        Assert.Equal((LedgerStatus.Ok, "claude-haiku-5-5", 1000L, 200L), (row.Status, row.RoutedModel, row.Usage.InputTokens, row.Usage.OutputTokens));
        Assert.Equal(0.0002m, row.Cost!.Value.Total);
        Assert.Equal(0.0002m, SampleBuild.PrintedCost(printed));
    }
}
