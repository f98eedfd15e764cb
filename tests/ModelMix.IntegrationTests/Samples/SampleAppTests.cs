using FakeAnthropic;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Samples;

/// <summary>
/// samples/HostedApp, built as an adopting app would build it: against the packed ModelMix package (a fresh version
/// each run, so no cached package stands in for it), run against FakeAnthropic: one call through the pipeline, a normal
/// stop, and the ledger row is there. Packs, builds and runs through <see cref="SampleBuild"/>.
/// </summary>
public sealed partial class SampleAppTests
{
    [Fact]
    public async Task The_hosted_sample_built_from_the_package_records_its_call_and_stops_cleanly()
    {
        using var build = SampleBuild.Create("sample");
        await build.PackAsync("ModelMix", "ModelMix.Sqlite");
        var output = await build.BuildSampleAsync("HostedApp");

        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.SetDefault(FakeReply.Default.WithUsage(new FakeUsage(1000, 200)));
        var db = Path.Combine(build.Folder, "sample.db");
        var printed = await SampleBuild.RunAsync(output, "dotnet", [Path.Combine(output, "HostedApp.dll"), "Say hello"], new Dictionary<string, string>
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

        var row = Assert.Single(await SampleBuild.ReadLedgerAsync(db)); // recorded and committed by the normal stop
        Assert.Equal((LedgerStatus.Ok, "claude-haiku-5-5", 1000L, 200L), (row.Status, row.RoutedModel, row.Usage.InputTokens, row.Usage.OutputTokens));
        Assert.Equal(0.0002m, row.Cost!.Value.Total);
        // The answer carries the exact cost it was recorded at.
        Assert.Equal(0.0002m, SampleBuild.PrintedCost(printed));
    }

    [Fact]
    public async Task A_routing_only_app_built_from_the_core_package_gets_no_database_driver()
    {
        using var build = SampleBuild.At("0.0.0", "routing");
        await build.PackAsync("ModelMix");
        var output = await build.BuildSampleAsync("RoutingOnly");

        Assert.True(File.Exists(Path.Combine(output, "ModelMix.dll")), "the core assembly is in the output");
        var drivers = Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories)
            .Select(file => Path.GetRelativePath(output, file))
            .Where(file => file.Contains("Npgsql", StringComparison.OrdinalIgnoreCase) || file.Contains("sqlite", StringComparison.OrdinalIgnoreCase)
                || file.StartsWith("runtimes", StringComparison.Ordinal))
            .ToList();
        Assert.True(drivers.Count == 0, "database drivers in a routing-only output: " + string.Join(", ", drivers));
        Assert.Contains("priced:", await SampleBuild.RunAsync(output, "dotnet", Path.Combine(output, "RoutingOnly.dll")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_aspnetcore_app_built_from_the_package_serves_modelmix_beside_its_own_endpoint_and_records_the_call()
    {
        using var build = SampleBuild.Create("aspnet");

        // ModelMix.AspNetCore (src/ModelMix.Server) first: it builds the three packages it references under the same
        // artifacts path, so their packs after it only pack.
        await build.PackAsync("ModelMix.Server", "ModelMix", "ModelMix.Sqlite", "ModelMix.Postgres");
        var output = await build.BuildSampleAsync("AspNetCoreApp");

        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.SetDefault(FakeReply.Default.WithUsage(new FakeUsage(1000, 200)));
        var db = Path.Combine(build.Folder, "aspnet.db");
        var port = Cli.ServeProcess.FreePort();
        using (var app = SampleProcess.Start(output, [Path.Combine(output, "AspNetCoreApp.dll"), "--urls", $"http://127.0.0.1:{port}"], new Dictionary<string, string>
        {
            ["ModelMix__Upstream"] = fake.BaseUrl.ToString(),
            ["ModelMix__Store"] = db,
            ["ANTHROPIC_API_KEY"] = "sk-aspnet-sample-key",
        }))
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromMinutes(1) };
            var hello = await app.WaitForAsync(http, "hello");
            Assert.Equal("Hello from the app's own endpoint.", hello);

            // Through the app's mapped /v1/messages to FakeAnthropic.
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
            {
                Content = new StringContent("""{"model":"claude-haiku-5-5","max_tokens":64,"messages":[{"role":"user","content":"Say hello"}]}""", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("anthropic-version", "2023-06-01");
            using var answer = await http.SendAsync(request);
            var body = await answer.Content.ReadAsStringAsync();
            Assert.True(answer.IsSuccessStatusCode, body + "\n" + app.Log);
            // Claude Haiku 5.5 at $0.10 / $0.50 per million tokens (prices.json, pricing page):
            // 1000 × 0.10/1e6 + 200 × 0.50/1e6 = $0.0001 + $0.0001 = $0.0002.
            Assert.Equal(0.0002m, decimal.Parse(answer.Headers.GetValues("x-modelmix-cost-usd").Single(), System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(1, fake.MessageCount);

            // A malformed request to a ModelMix endpoint is answered by ModelMix, in OpenAI's shape on /v1/chat/completions.
            using var malformed = await http.PostAsync("v1/chat/completions", new StringContent("{not json", System.Text.Encoding.UTF8, "application/json"));
            var refusal = await malformed.Content.ReadAsStringAsync();
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, malformed.StatusCode);
            Assert.Contains("\"error\"", refusal, StringComparison.Ordinal);
            Assert.True(malformed.Headers.Contains("x-modelmix-request-id"), string.Join(", ", malformed.Headers.Select(h => h.Key)));
            // The app's other paths stay the app's: an unknown one is ASP.NET Core's empty 404, not a ModelMix error body.
            using var missing = await http.GetAsync("nowhere");
            Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Equal(string.Empty, await missing.Content.ReadAsStringAsync());

            // A normal stop (SIGTERM): the ledger is flushed before the app exits.
            var exitCode = await app.TerminateAsync();
            Assert.True(exitCode == 0, $"exit {exitCode}:\n" + app.Log);
        }

        var row = Assert.Single(await SampleBuild.ReadLedgerAsync(db));
        Assert.Equal((LedgerStatus.Ok, "claude-haiku-5-5", 1000L, 200L), (row.Status, row.RoutedModel, row.Usage.InputTokens, row.Usage.OutputTokens));
        Assert.Equal(0.0002m, row.Cost!.Value.Total);
    }
}
