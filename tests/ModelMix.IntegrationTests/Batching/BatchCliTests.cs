using System.Diagnostics;
using System.Text.Json.Nodes;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;

namespace ModelMix.IntegrationTests.Batching;

/// <summary>The real <c>modelmix batch</c> CLI (the built dll) against a running proxy.</summary>
public sealed class BatchCliTests
{
    [Fact]
    public async Task Submit_with_wait_then_results_prints_every_result_by_custom_id()
    {
        await using var proxy = await ProxyHarness.StartAsync(BatchProxyTests.FastBatches);
        using var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "requests.jsonl");
        await File.WriteAllLinesAsync(file,
        [
            $$"""{"custom_id":"first","params":{{BatchProxyTests.Params(1)}}}""",
            BatchProxyTests.Params(2), // a bare Messages request gets custom_id line-2
        ]);

        var (submitCode, submitOut, submitErr) = await RunAsync("batch", "submit", file, "--url", proxy.ProxyUrl.ToString(), "--wait");
        Assert.True(submitCode == 0, submitErr);
        var jobId = submitOut.Split('\n')[0].Trim();
        Assert.StartsWith("mmxjob_", jobId, StringComparison.Ordinal);
        Assert.Contains("\"ended\"", submitOut, StringComparison.Ordinal);

        var (resultsCode, resultsOut, resultsErr) = await RunAsync("batch", "results", jobId, "--url", proxy.ProxyUrl.ToString());
        Assert.True(resultsCode == 0, resultsErr);
        var ids = resultsOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!["custom_id"]!.GetValue<string>());
        Assert.Equal(["first", "line-2"], ids);

        var (missingCode, _, missingErr) = await RunAsync("batch", "status", "mmxjob_nope", "--url", proxy.ProxyUrl.ToString());
        Assert.Equal(1, missingCode);
        Assert.Contains("404", missingErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancel_cancels_a_running_job_upstream_and_its_budget_settles_to_nothing()
    {
        await using var proxy = await ProxyHarness.StartAsync(BatchProxyTests.FastBatches, new AnchoredClock()); // the day window read at the end is the one charged
        proxy.Fake.Batches.InProgressPolls = int.MaxValue; // ends only when canceled
        var key = await BatchBudgetTests.CreateKeyAsync(proxy, "1/day");
        using var http = BatchBudgetTests.Http(proxy, key.Key);
        using var submit = await http.PostAsync("v1/modelmix/batch", BatchProxyTests.Job(Enumerable.Range(0, 5).Select(i => $$"""{"custom_id":"r{{i}}","params":{{BatchProxyTests.Params(i)}}}""")));
        var jobId = JsonNode.Parse(await submit.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        var clock = Stopwatch.StartNew();
        while (proxy.Fake.Batches.CreateCount == 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the job was never submitted");
            await Task.Delay(50);
        }

        var (code, output, error) = await RunAsync("batch", "cancel", jobId, "--url", proxy.ProxyUrl.ToString(), "--key", key.Key);
        Assert.True(code == 0, error);
        Assert.NotNull(JsonNode.Parse(output)!["cancel_initiated_at"]);
        Assert.Equal(1, proxy.Fake.Batches.CancelCount);

        var ended = await BatchProxyTests.WaitForEndAsync(http, jobId);
        Assert.Equal(5, ended["request_counts"]!["canceled"]!.GetValue<int>());
        var lines = (await http.GetStringAsync($"v1/modelmix/batch/{jobId}/results")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, line => Assert.Equal("canceled", JsonNode.Parse(line)!["result"]!["type"]!.GetValue<string>()));
        var usage = await BatchBudgetTests.WaitSettledAsync(proxy, key.Info.BudgetScope);
        Assert.Equal((0m, 0m), (usage.SpentUsd, usage.ReservedUsd));

        var (missingCode, _, missingErr) = await RunAsync("batch", "cancel", "mmxjob_nope", "--url", proxy.ProxyUrl.ToString(), "--key", key.Key);
        Assert.Equal(1, missingCode);
        Assert.Contains("404", missingErr, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Out, string Err)> RunAsync(params string[] arguments)
    {
        var dll = Path.Combine(RepositoryPaths.Root, "src", "ModelMix.Cli", "bin", RepositoryPaths.Configuration, RepositoryPaths.Framework, "ModelMix.Cli.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("MODELMIX_API_KEY");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }
}
