using ModelMix.Tests.Evaluation;

namespace ModelMix.Tests.Cli;

public sealed class EvalCommandTests
{
    [Fact]
    public async Task Json_output_has_the_documented_shape_with_fractions()
    {
        using var folder = new TempFolder();
        var dataset = folder.Write("small.jsonl", OfflineEvaluatorTests.Small);
        var outDir = Path.Combine(folder.Path, "out");

        var result = await Cli.RunAsync("eval", "--dataset", dataset, "--cheap", "c", "--top", "t", "--split", "all", "--format", "json", "--out", outDir);

        var json = result.Json();
        Assert.Equal("small.jsonl", json.GetProperty("dataset").GetString());
        Assert.Equal(3, json.GetProperty("n").GetInt32());
        Assert.Equal(1, json.GetProperty("skipped").GetInt32());
        foreach (var policy in json.GetProperty("policies").EnumerateArray())
        {
            foreach (var key in new[] { "name", "cost_usd", "quality", "quality_pct_of_top", "cost_pct_of_top", "share_by_model", "apgr", "cpt50", "cpt80" })
            {
                Assert.True(policy.TryGetProperty(key, out _), $"missing {key}");
            }

            Assert.InRange(policy.GetProperty("cost_pct_of_top").GetDouble(), 0, 1);
        }

        var oracle = json.GetProperty("policies").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "oracle");
        Assert.Equal(13m, oracle.GetProperty("cost_usd").GetDecimal());
        Assert.True(new FileInfo(Path.Combine(outDir, "cost-quality.png")).Length > 1000);
        Assert.Contains("| oracle |", await File.ReadAllTextAsync(Path.Combine(outDir, "report.md")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Train_calibrate_eval_round_trip_through_the_commands()
    {
        using var folder = new TempFolder();
        var dataset = Shared.SharedData.File("routerbench-train.jsonl");
        var router = Path.Combine(folder.Path, "router.json");
        string[] tiers = ["--cheap", "claude-instant-v1", "--mid", "claude-v1", "--top", "gpt-4-1106-preview"];

        var train = await Cli.RunAsync(["train", "--dataset", dataset, .. tiers, "--out", router]);
        Assert.True(train.ExitCode == 0, train.Error);
        var calibrate = await Cli.RunAsync("calibrate", "--router", router, "--dataset", dataset, "--quality-floor", "0.93");
        Assert.True(calibrate.ExitCode == 0, calibrate.Error);
        Assert.Contains("\"quality_floor\": 0.93", await File.ReadAllTextAsync(router), StringComparison.Ordinal);

        var eval = await Cli.RunAsync(["eval", "--dataset", dataset, .. tiers, "--router", router, "--format", "json"]);
        var learned = eval.Json().GetProperty("policies").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "learned");
        Assert.InRange(learned.GetProperty("apgr").GetDouble(), 0.5, 1.5);

        var leak = await Cli.RunAsync(["eval", "--dataset", dataset, .. tiers, "--router", router, "--split", "all"]);
        Assert.Equal(1, leak.ExitCode);
        Assert.Contains("--split test", leak.Error, StringComparison.Ordinal);
    }
}
