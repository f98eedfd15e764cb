using ModelMix.Evaluation;
using ModelMix.Tests.Cli;

namespace ModelMix.Tests.Evaluation;

public sealed class OfflineEvaluatorTests
{
    // Three usable prompts and one without the top model (skipped):
    //   p1: cheap q1 $1, top q1 $10 → oracle cheap;  p2: cheap q0 $1, top q1 $10 → oracle top
    //   p3: cheap only → skipped;                    p4: cheap q0 $2, top q0 $10 → oracle cheap
    internal const string Small = """
        {"id":"p1","task":"t","prompt":"one","candidates":{"c":{"quality":1,"cost_usd":1},"t":{"quality":1,"cost_usd":10}}}
        {"id":"p2","task":"t","prompt":"two","candidates":{"c":{"quality":0,"cost_usd":1},"t":{"quality":1,"cost_usd":10}}}
        {"id":"p3","task":"t","prompt":"three","candidates":{"c":{"quality":1,"cost_usd":1}}}
        {"id":"p4","task":"t","prompt":"four","candidates":{"c":{"quality":0,"cost_usd":2},"t":{"quality":0,"cost_usd":10}}}
        """;

    [Fact]
    public void Policies_are_replayed_exactly_and_prompts_missing_a_model_are_skipped_and_counted()
    {
        using var folder = new TempFolder();
        var records = RoutingDataset.Read(folder.Write("small.jsonl", Small)).ToList();

        var report = OfflineEvaluator.Evaluate(records, "small.jsonl", new EvaluationTiers("c", null, "t"), new OfflineEvaluationOptions { Split = DatasetSplit.All });

        Assert.Equal(3, report.N);
        Assert.Equal(1, report.Skipped);
        var cheap = report.Policies.Single(p => p.Name == "always-cheap");
        Assert.Equal(4m, cheap.CostUsd);
        Assert.Equal(1 / 3.0, cheap.Quality, 9);
        Assert.Equal(0.5, cheap.QualityPctOfTop, 9); // (1/3) / (2/3)
        var top = report.Policies.Single(p => p.Name == "always-top");
        Assert.Equal(30m, top.CostUsd);
        var oracle = report.Policies.Single(p => p.Name == "oracle");
        Assert.Equal(13m, oracle.CostUsd);
        Assert.Equal(1.0, oracle.QualityPctOfTop, 9);
        Assert.Equal(2 / 3.0, oracle.ShareByModel["c"], 9);
        Assert.Contains(report.Notes, n => n.Contains("meta-router is not replayed", StringComparison.Ordinal));
        Assert.DoesNotContain(report.Policies, p => p.Name is "meta-router" or "cascade" or "learned");
    }

    [Fact]
    public void A_malformed_line_names_the_file_and_line()
    {
        using var folder = new TempFolder();
        var path = folder.Write("bad.jsonl", Small.Split('\n')[0] + "\n\n{\"id\":\"x\",\"prompt\":\"p\",\"candidates\":{\"c\":{\"quality\":2,\"cost_usd\":1}}}\n");

        var error = Assert.Throws<DatasetFormatException>(() => RoutingDataset.Read(path).ToList());

        Assert.Contains("bad.jsonl:3", error.Message, StringComparison.Ordinal);
        Assert.Contains("quality", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Splits_are_deterministic_and_close_to_60_20_20()
    {
        var ids = Enumerable.Range(0, 5000).Select(i => $"set/item.{i}").ToList();
        var counts = ids.GroupBy(id => DatasetSplitter.Assign(id, 42)).ToDictionary(g => g.Key, g => g.Count());

        Assert.InRange(counts[DatasetSplit.Train], 2850, 3150);
        Assert.InRange(counts[DatasetSplit.Calibration], 900, 1100);
        Assert.InRange(counts[DatasetSplit.Test], 900, 1100);
        Assert.All(ids, id => Assert.Equal(DatasetSplitter.Assign(id, 42), DatasetSplitter.Assign(id, 42)));
    }
}
