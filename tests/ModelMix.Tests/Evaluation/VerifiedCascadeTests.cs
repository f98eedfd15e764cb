using ModelMix.Evaluation;
using ModelMix.Tests.Cli;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Evaluation;

/// <summary>The verified cascade eval replays from recorded verifier outcomes, and the dataset built from MBPP's.</summary>
public sealed class VerifiedCascadeTests
{
    // p1: cheap right, verifier passes it → kept ($1, q 1)
    // p2: cheap wrong, verifier fails it → top called ($1 + $10, q 1)
    // p3: cheap wrong, verifier passes it anyway (a false pass) → kept ($1, q 0)
    // p4: cheap right, a judge scores it 0.3 < 0.5 at $0.50 → top called ($2 + $0.50 + $10, top's q 0)
    internal const string Verified = """
        {"id":"p1","task":"code","prompt":"one","candidates":{"c":{"quality":1,"cost_usd":1,"verified":true},"t":{"quality":1,"cost_usd":10}}}
        {"id":"p2","task":"code","prompt":"two","candidates":{"c":{"quality":0,"cost_usd":1,"verified":false},"t":{"quality":1,"cost_usd":10}}}
        {"id":"p3","task":"code","prompt":"three","candidates":{"c":{"quality":0,"cost_usd":1,"verified":1},"t":{"quality":1,"cost_usd":10}}}
        {"id":"p4","task":"code","prompt":"four","candidates":{"c":{"quality":1,"cost_usd":2,"verified":0.3,"verifier_cost_usd":0.5},"t":{"quality":0,"cost_usd":10}}}
        """;

    private static List<DatasetRecord> Read(string text)
    {
        using var folder = new TempFolder();
        return RoutingDataset.Read(folder.Write("verified.jsonl", text)).ToList();
    }

    [Fact]
    public void Eval_replays_the_cascade_from_the_recorded_verifier_outcomes()
    {
        var report = OfflineEvaluator.Evaluate(Read(Verified), "verified.jsonl", new EvaluationTiers("c", null, "t"), new OfflineEvaluationOptions { Split = DatasetSplit.All });

        var cascade = report.Policies.Single(p => p.Name == "cascade-verified");
        Assert.Equal(25.5m, cascade.CostUsd);                    // 1 + (1 + 10) + 1 + (2 + 0.5 + 10)
        Assert.Equal(0.5, cascade.Quality, 12);                  // (1 + 1 + 0 + 0) / 4
        Assert.Equal(0.5 / 0.75, cascade.QualityPctOfTop, 12);   // top keeps (1 + 1 + 1 + 0) / 4
        Assert.Equal(25.5 / 40, cascade.CostPctOfTop, 12);       // top costs 4 × 10
        Assert.Equal(4 / 6.0, cascade.ShareByModel["c"], 12);    // 4 cheap calls and 2 top calls
        Assert.Contains("2 of 4 escalated", cascade.Note, StringComparison.Ordinal);
    }

    [Fact]
    public void The_verifier_threshold_decides_which_judge_scores_pass()
    {
        var report = OfflineEvaluator.Evaluate(Read(Verified), "verified.jsonl", new EvaluationTiers("c", null, "t"), new OfflineEvaluationOptions { Split = DatasetSplit.All, VerifierThreshold = 0.25 });

        var cascade = report.Policies.Single(p => p.Name == "cascade-verified");
        Assert.Equal(15.5m, cascade.CostUsd); // p4's 0.3 now passes: 1 + 11 + 1 + (2 + 0.5)
        Assert.Equal(0.75, cascade.Quality, 12);
    }

    [Fact]
    public void A_dataset_that_verifies_only_some_prompts_is_not_replayed_and_eval_says_why()
    {
        var partial = Verified.Replace(",\"verified\":0.3,\"verifier_cost_usd\":0.5", string.Empty, StringComparison.Ordinal);

        var report = OfflineEvaluator.Evaluate(Read(partial), "partial.jsonl", new EvaluationTiers("c", null, "t"), new OfflineEvaluationOptions { Split = DatasetSplit.All });

        Assert.DoesNotContain(report.Policies, p => p.Name == "cascade-verified");
        Assert.Contains(report.Notes, n => n.StartsWith("Only 3 of 4 prompts record a verifier outcome", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("\"verified\":\"yes\"", "verified")]
    [InlineData("\"verified\":1.5", "outside")]
    [InlineData("\"verifier_cost_usd\":-1", "verifier_cost_usd")]
    public void Bad_verifier_fields_name_the_line_and_the_field(string field, string expected)
    {
        var line = "{\"id\":\"x\",\"prompt\":\"p\",\"candidates\":{\"c\":{\"quality\":1,\"cost_usd\":1," + field + "}}}";

        var error = Assert.Throws<DatasetFormatException>(() => RoutingDataset.Parse(line, "f.jsonl", 3));

        Assert.Contains("f.jsonl:3", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_record_written_in_the_dataset_format_reads_back_the_same()
    {
        foreach (var record in Read(Verified))
        {
            var again = RoutingDataset.Parse(RoutingDataset.Format(record), "again.jsonl", record.Line);

            Assert.Equal(record.Id, again.Id);
            Assert.Equal(record.Task, again.Task);
            Assert.Equal(record.Prompt, again.Prompt);
            Assert.Equal(record.Candidates.OrderBy(c => c.Key), again.Candidates.OrderBy(c => c.Key));
        }
    }

    [Fact]
    public void Mbpp_correctness_is_the_verifier_outcome_and_a_perfect_verifier_keeps_the_oracles_quality_paying_both_calls()
    {
        var records = RoutingDataset.Read(SharedData.File("routerbench-train.jsonl")).Where(r => r.Task is "mbpp" or "arc_challenge").ToList();
        var tiers = new EvaluationTiers("claude-instant-v1", null, "gpt-4-1106-preview");

        var verified = VerifiedDataset.FromCorrectness(records, VerifiedDataset.TestedTasks);

        Assert.Equal(299, verified.Count); // shared/data/README.md: MBPP 299
        Assert.All(verified, r => Assert.Equal("mbpp", r.Task));
        Assert.All(verified.SelectMany(r => r.Candidates.Values), c => Assert.Equal(c.Quality, c.Verified));
        var report = OfflineEvaluator.Evaluate(verified, "mbpp-verified.jsonl", tiers, new OfflineEvaluationOptions { Split = DatasetSplit.All });
        var cascade = report.Policies.Single(p => p.Name == "cascade-verified");
        var oracle = report.Policies.Single(p => p.Name == "oracle");
        var cheap = report.Policies.Single(p => p.Name == "always-cheap");
        Assert.Equal(oracle.Quality, cascade.Quality, 12);
        Assert.True(cascade.CostUsd > oracle.CostUsd && cascade.CostUsd < report.Policies.Single(p => p.Name == "always-top").CostUsd);
        Assert.True(cascade.QualityPctOfTop > 1 && cheap.QualityPctOfTop < 1);
    }

    [Fact]
    public void Only_pass_fail_quality_can_become_a_verifier_outcome()
    {
        var judged = Read("""{"id":"a","task":"chat","prompt":"p","candidates":{"c":{"quality":0.4,"cost_usd":1}}}""");

        var error = Assert.Throws<DatasetFormatException>(() => VerifiedDataset.FromCorrectness(judged, ["chat"]));

        Assert.Contains("pass/fail", error.Message, StringComparison.Ordinal);
        Assert.Empty(VerifiedDataset.FromCorrectness(judged, ["mbpp"]));
    }
}
