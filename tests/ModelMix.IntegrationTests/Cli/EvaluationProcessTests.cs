using System.Diagnostics;
using System.Text;
using System.Text.Json;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;

namespace ModelMix.IntegrationTests.Cli;

/// <summary><c>modelmix train</c>, <c>calibrate</c> and <c>eval</c> as child processes: exit codes, files, stdout.</summary>
public sealed class EvaluationProcessTests
{
    [Fact]
    public async Task Train_calibrate_and_eval_run_as_processes_and_chain_through_the_router_file()
    {
        using var dir = new TempDirectory();
        var dataset = Path.Combine(dir.Path, "synthetic.jsonl");
        await File.WriteAllTextAsync(dataset, Synthetic(300));
        var router = Path.Combine(dir.Path, "router.json");
        string[] tiers = ["--cheap", "small", "--top", "large"];

        // Cross-fit on everything but the test split, so eval can report on the test split.
        var train = await RunAsync(["train", "--dataset", dataset, .. tiers, "--out", router, "--split", "development", "--folds", "3"]);
        Assert.True(train.Code == 0, train.Error);
        Assert.Contains("cross-fitted on", train.Output, StringComparison.Ordinal);

        // On the data it was cross-fitted on (its default split), calibration uses the out-of-fold scores.
        var calibrate = await RunAsync(["calibrate", "--router", router, "--dataset", dataset, "--strong-share", "0.6"]);
        Assert.True(calibrate.Code == 0, calibrate.Error);
        Assert.Contains("split development, out-of-fold scores", calibrate.Output, StringComparison.Ordinal);
        using (var file = JsonDocument.Parse(await File.ReadAllTextAsync(router)))
        {
            Assert.Equal(0.6, file.RootElement.GetProperty("calibration").GetProperty("strong_share").GetDouble());
        }

        var eval = await RunAsync(["eval", "--dataset", dataset, .. tiers, "--router", router, "--format", "json", "--out", Path.Combine(dir.Path, "out")]);
        Assert.True(eval.Code == 0, eval.Error);
        using var json = JsonDocument.Parse(eval.Output);
        var learned = json.RootElement.GetProperty("policies").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "learned");
        // 'hard' prompts need the large model, 'easy' ones do not: the router learns the label, so it recovers
        // nearly all of the gap at the share of hard prompts.
        Assert.True(learned.GetProperty("quality_pct_of_top").GetDouble() > 0.95);
        Assert.True(File.Exists(Path.Combine(dir.Path, "out", "cost-quality.svg")));

        var missing = await RunAsync(["eval", "--dataset", Path.Combine(dir.Path, "none.jsonl"), .. tiers]);
        Assert.Equal(1, missing.Code);
        Assert.Contains("does not exist", missing.Error, StringComparison.Ordinal);
    }

    private static string Synthetic(int count)
    {
        var text = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            var hard = i % 2 == 0;
            var prompt = hard ? $"Prove the theorem number {i} step by step." : $"What colour is item {i}?";
            var small = hard ? 0 : 1;
            var task = hard ? "hard" : "easy";
            text.Append("{\"id\":\"s/").Append(i).Append("\",\"task\":\"").Append(task).Append("\",\"prompt\":\"").Append(prompt)
                .Append("\",\"candidates\":{\"small\":{\"quality\":").Append(small).Append(",\"cost_usd\":0.001},\"large\":{\"quality\":1,\"cost_usd\":0.01}}}\n");
        }

        return text.ToString();
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(string[] args)
    {
        var dll = Path.Combine(RepositoryPaths.Root, "src", "ModelMix.Cli", "bin", RepositoryPaths.Configuration, RepositoryPaths.Framework, "ModelMix.Cli.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }
}
