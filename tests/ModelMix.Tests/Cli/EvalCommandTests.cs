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
        // One point and one legend entry per policy, in order.
        var svg = System.Xml.Linq.XDocument.Load(Path.Combine(outDir, "cost-quality.svg"));
        System.Xml.Linq.XNamespace ns = "http://www.w3.org/2000/svg";
        var policies = json.GetProperty("policies").EnumerateArray().Select(p => p.GetProperty("name").GetString()!).ToList();
        Assert.Equal(policies.Count, svg.Descendants(ns + "circle").Count());
        Assert.Equal(policies, svg.Descendants(ns + "text").Where(t => (string?)t.Attribute("class") == "policy").Select(t => t.Value.Replace(" (sweep)", "", StringComparison.Ordinal)).ToList());
        Assert.Contains("| oracle |", await File.ReadAllTextAsync(Path.Combine(outDir, "report.md")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Train_calibrate_eval_round_trip_through_the_commands()
    {
        using var folder = new TempFolder();
        var dataset = Slice(folder, 100);
        var router = Path.Combine(folder.Path, "router.json");
        string[] tiers = ["--cheap", "claude-instant-v1", "--mid", "claude-v1", "--top", "gpt-4-1106-preview"];

        // Cross-fit on the 80% that is not test, calibrate out of fold, report on the test split.
        var train = await Cli.RunAsync(["train", "--dataset", dataset, .. tiers, "--out", router, "--split", "development", "--folds", "3"]);
        Assert.True(train.ExitCode == 0, train.Error);
        Assert.Contains("out-of-fold APGR by scorers: linear ", train.Output, StringComparison.Ordinal);
        var calibrate = await Cli.RunAsync("calibrate", "--router", router, "--dataset", dataset, "--quality-floor", "0.93");
        Assert.True(calibrate.ExitCode == 0, calibrate.Error);
        Assert.Contains("split development, out-of-fold scores", calibrate.Output, StringComparison.Ordinal);
        Assert.Contains("against random: APGR", calibrate.Output, StringComparison.Ordinal);
        Assert.Contains("the proxy will refuse auto-learned from this router unless ModelMix:LearnedRouter:Force is true: its evidence is not from this deployment's traffic", calibrate.Output, StringComparison.Ordinal);
        var file = await File.ReadAllTextAsync(router);
        Assert.Contains("\"quality_floor\": 0.93", file, StringComparison.Ordinal);
        Assert.Contains("\"evidence\": {", file, StringComparison.Ordinal);

        var eval = await Cli.RunAsync(["eval", "--dataset", dataset, .. tiers, "--router", router, "--format", "json"]);
        Assert.True(eval.ExitCode == 0, eval.Error);
        var learned = eval.Json().GetProperty("policies").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "learned");
        Assert.InRange(learned.GetProperty("apgr").GetDouble(), 0, 1);
        Assert.True(learned.GetProperty("apgr_lower").GetDouble() <= learned.GetProperty("apgr").GetDouble());
        Assert.Equal(learned.GetProperty("apgr_lower").GetDouble() > 0.5, learned.GetProperty("beats_random").GetBoolean());
        Assert.Contains(eval.Json().GetProperty("notes").EnumerateArray(), n => n.GetString()!.StartsWith("learned vs random: APGR", StringComparison.Ordinal));

        var leak = await Cli.RunAsync(["eval", "--dataset", dataset, .. tiers, "--router", router, "--split", "all"]);
        Assert.Equal(1, leak.ExitCode);
        Assert.Contains("--split test", leak.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Train_with_a_floor_calibrates_out_of_fold_in_one_step()
    {
        using var folder = new TempFolder();
        var dataset = Slice(folder, 60);
        var router = Path.Combine(folder.Path, "router.json");

        var train = await Cli.RunAsync("train", "--dataset", dataset, "--cheap", "claude-instant-v1", "--top", "gpt-4-1106-preview", "--out", router, "--folds", "3", "--quality-floor", "0.9", "--in-domain");

        Assert.True(train.ExitCode == 0, train.Error);
        Assert.Contains("price of quality λ", train.Output, StringComparison.Ordinal);
        Assert.Contains("split all, out-of-fold scores", train.Output, StringComparison.Ordinal);
        Assert.Equal("declared in-domain (--in-domain)", ModelMix.Routing.LearnedRouter.Load(router).Evidence!.Domain);
    }

    [Fact]
    public async Task Dataset_verified_writes_mbpp_with_verifier_outcomes_and_eval_replays_the_cascade()
    {
        using var folder = new TempFolder();
        var output = Path.Combine(folder.Path, "mbpp-verified.jsonl");

        var build = await Cli.RunAsync("dataset", "verified", "--dataset", Shared.SharedData.File("routerbench-train.jsonl"), "--out", output);

        Assert.True(build.ExitCode == 0, build.Error);
        Assert.Contains("Wrote 299 prompt(s) of mbpp", build.Output, StringComparison.Ordinal);
        var eval = await Cli.RunAsync("eval", "--dataset", output, "--cheap", "claude-instant-v1", "--top", "gpt-4-1106-preview", "--split", "all", "--format", "json");
        Assert.True(eval.ExitCode == 0, eval.Error);
        var cascade = eval.Json().GetProperty("policies").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "cascade-verified");
        Assert.True(cascade.GetProperty("quality_pct_of_top").GetDouble() > 1);
        Assert.True(cascade.GetProperty("cost_pct_of_top").GetDouble() < 1);
    }

    // The first n prompts of each task of the shared RouterBench file, written to a temporary file (never the repository).
    private static string Slice(TempFolder folder, int perTask)
    {
        var lines = File.ReadLines(Shared.SharedData.File("routerbench-train.jsonl"))
            .GroupBy(line => System.Text.RegularExpressions.Regex.Match(line, "\"task\": \"([^\"]+)\"").Groups[1].Value)
            .SelectMany(g => g.Take(perTask));
        return folder.Write("routerbench-slice.jsonl", string.Join('\n', lines));
    }
}
