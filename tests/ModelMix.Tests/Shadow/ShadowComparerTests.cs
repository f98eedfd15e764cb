using ModelMix.Shadow;

namespace ModelMix.Tests.Shadow;

public sealed class ShadowComparerTests
{
    [Fact]
    public void Sampling_share_is_close_to_the_rate_and_deterministic_by_request_id()
    {
        const int N = 20_000;
        var ids = Enumerable.Range(0, N).Select(i => $"req_{i:D6}").ToList();
        var sampled = ids.Count(id => ShadowSampler.IsSampled(id, 0.1));

        Assert.InRange(sampled / (double)N, 0.09, 0.11);
        Assert.All(ids.Take(200), id => Assert.Equal(ShadowSampler.IsSampled(id, 0.1), ShadowSampler.IsSampled(id, 0.1)));
        Assert.Equal(0, ids.Count(id => ShadowSampler.IsSampled(id, 0)));
        Assert.Equal(N, ids.Count(id => ShadowSampler.IsSampled(id, 1)));
        // A request sampled at 10% is also sampled at 50% (the hash is compared to the rate).
        Assert.All(ids.Where(id => ShadowSampler.IsSampled(id, 0.1)), id => Assert.True(ShadowSampler.IsSampled(id, 0.5)));
    }

    [Theory]
    [InlineData("Positive.", "positive", 1.0)]
    [InlineData("  'B'  ", "b", 1.0)]
    [InlineData("New   York", "new york!", 1.0)]
    [InlineData("positive", "negative", 0.0)]
    public void Exact_match_is_normalized(string live, string shadow, double expected) =>
        Assert.Equal(expected, ShadowComparer.Exact(live, shadow));

    [Fact]
    public void Json_match_scores_fields_nested_paths_and_unparsable_answers()
    {
        const string Live = """{"name": "Ada", "address": {"city": "London"}, "tags": [1, 2]}""";
        Assert.Equal(1.0, ShadowComparer.Json(Live, """{"tags": [1, 2], "address": {"city": "London"}, "name": "Ada"}""", []));
        Assert.Equal(2.0 / 3, ShadowComparer.Json(Live, """{"name": "Ada", "address": {"city": "Paris"}, "tags": [1, 2]}""", []), 6);
        Assert.Equal(1.0, ShadowComparer.Json(Live, """Here: {"name": "Ada", "address": {"city": "London", "zip": "N1"}}""", ["name", "address.city"]));
        Assert.Equal(0.0, ShadowComparer.Json(Live, "not json", ["name"]));
        Assert.Equal(1.0, ShadowComparer.Json("yes", "Yes.", ["name"])); // a live answer that is not JSON falls back to exact match
    }

    [Theory]
    [InlineData("0.8", 0.8)]
    [InlineData("Score: 0.25", 0.25)]
    [InlineData("{\"score\": 1}", 1.0)]
    public void Judge_scores_are_read(string text, double expected)
    {
        Assert.True(ShadowComparer.TryParseScore(text, out var score));
        Assert.Equal(expected, score);
    }

    [Fact]
    public void Judge_answers_without_a_score_in_range_are_refused()
    {
        Assert.False(ShadowComparer.TryParseScore("I cannot rate this.", out _));
        Assert.False(ShadowComparer.TryParseScore("7", out _));
    }

    [Fact]
    public void Options_validation_names_the_keys()
    {
        var errors = new ShadowOptions { DefaultRate = 2, Comparison = ShadowComparison.Judge }.Validate("ModelMix:Shadow:");
        Assert.Contains(errors, e => e.StartsWith("ModelMix:Shadow:CandidateModel", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ModelMix:Shadow:DefaultRate", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ModelMix:Shadow:JudgeModel", StringComparison.Ordinal));
        Assert.Empty(new ShadowOptions { CandidateModel = "claude-sonnet-4-5", DefaultRate = 0.1 }.Validate());
    }
}
