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
public sealed partial class SampleAppTests
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

    [Fact]
    public async Task An_aspnetcore_app_built_from_the_package_serves_modelmix_beside_its_own_endpoint_and_records_the_call()
    {
        using var dir = new TempDirectory();
        var feed = Path.Combine(dir.Path, "feed");
        var root = RepositoryPaths.Root;
        var version = $"{VersionPrefix(root)}-aspnet{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        var artifacts = Path.Combine(dir.Path, "artifacts");

        // ModelMix.AspNetCore (src/ModelMix.Server) first: it builds the three packages it references under the same
        // artifacts path, so their packs after it only pack.
        foreach (var project in new[] { "ModelMix.Server", "ModelMix", "ModelMix.Sqlite", "ModelMix.Postgres" })
        {
            await RunAsync(root, "dotnet", "pack", Path.Combine(root, "src", project, project + ".csproj"), "-c", "Release", "-o", feed, $"-p:Version={version}", "--artifacts-path", artifacts);
        }

        var output = Path.Combine(dir.Path, "app");
        await RunAsync(root, "dotnet", "build", Path.Combine(root, "samples", "AspNetCoreApp", "AspNetCoreApp.csproj"), "-c", "Release", "-o", output,
            $"-p:ModelMixVersion={version}", $"-p:RestoreAdditionalProjectSources={feed}", $"-p:BaseIntermediateOutputPath={Path.Combine(dir.Path, "obj")}{Path.DirectorySeparatorChar}");

        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.SetDefault(FakeReply.Default.WithUsage(new FakeUsage(1000, 200)));
        var db = Path.Combine(dir.Path, "aspnet.db");
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = output, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Path.Combine(output, "AspNetCoreApp.dll"), "--urls", $"http://127.0.0.1:{port}" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["ModelMix__Upstream"] = fake.BaseUrl.ToString();
        start.Environment["ModelMix__Store"] = db;
        start.Environment["ANTHROPIC_API_KEY"] = "sk-aspnet-sample-key";
        using var process = Process.Start(start)!;
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, line) => { if (line.Data is not null) { log.Enqueue(line.Data); } };
        process.ErrorDataReceived += (_, line) => { if (line.Data is not null) { log.Enqueue(line.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromMinutes(1) };
            var hello = await WaitForAsync(http, "hello", process, log);
            Assert.Equal("Hello from the app's own endpoint.", hello);

            // Through the app's mapped /v1/messages to FakeAnthropic.
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
            {
                Content = new StringContent("""{"model":"claude-haiku-5-5","max_tokens":64,"messages":[{"role":"user","content":"Say hello"}]}""", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("anthropic-version", "2023-06-01");
            using var answer = await http.SendAsync(request);
            var body = await answer.Content.ReadAsStringAsync();
            Assert.True(answer.IsSuccessStatusCode, body + "\n" + string.Join("\n", log));
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
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill!.WaitForExitAsync();
            }

            using var stopTimeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(stopTimeout.Token);
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}:\n" + string.Join("\n", log));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        await using var store = new SqliteLedgerStore(db);
        await store.MigrateAsync();
        var records = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(new LedgerQuery()))
        {
            records.Add(record);
        }

        var row = Assert.Single(records);
        Assert.Equal((LedgerStatus.Ok, "claude-haiku-5-5", 1000L, 200L), (row.Status, row.RoutedModel, row.Usage.InputTokens, row.Usage.OutputTokens));
        Assert.Equal(0.0002m, row.Cost!.Value.Total);
        SqliteConnection.ClearAllPools();
    }

    /// <summary>Polls GET <paramref name="path"/> until it answers 200 (the app is up), for up to 3 minutes (a cold start on a loaded machine).</summary>
    private static async Task<string> WaitForAsync(HttpClient http, string path, Process process, System.Collections.Concurrent.ConcurrentQueue<string> log)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(3))
        {
            Assert.False(process.HasExited, "the app exited during start-up:\n" + string.Join("\n", log));
            try
            {
                using var response = await http.GetAsync(path);
                if (response.IsSuccessStatusCode)
                {
                    return await response.Content.ReadAsStringAsync();
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("the app did not answer:\n" + string.Join("\n", log));
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal static string VersionPrefix(string root) =>
        System.Text.RegularExpressions.Regex.Match(File.ReadAllText(Path.Combine(root, "Directory.Build.props")), "<VersionPrefix>([^<]+)</VersionPrefix>").Groups[1].Value;

    internal static Task<string> RunAsync(string workingDirectory, string file, params string[] arguments) =>
        RunAsync(workingDirectory, file, arguments, new Dictionary<string, string>());

    internal static Task<string> RunAsync(string workingDirectory, string file, string[] arguments, Dictionary<string, string> environment) =>
        RunAsync(workingDirectory, file, arguments, environment, TimeSpan.FromMinutes(8));

    internal static async Task<string> RunAsync(string workingDirectory, string file, string[] arguments, Dictionary<string, string> environment, TimeSpan limit)
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
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true); // not left running (a native compile holds both cores)
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} still running after {limit}");
        }

        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{await stdout}\n{await stderr}");
        return await stdout;
    }
}
