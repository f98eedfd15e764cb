using ModelMix.Routing;

namespace ModelMix.Tests.Cascade;

public sealed class CascadeConfidenceParserTests
{
    [Theory]
    [InlineData("{\"answer\":\"Paris\",\"confidence\":0.92}", "Paris", 0.92)]
    [InlineData("```json\n{\"answer\": \"Paris\", \"confidence\": \"0.5\"}\n```", "Paris", 0.5)]
    [InlineData("The capital is Paris.\n{\"confidence\": 0.42}", "The capital is Paris.", 0.42)]
    [InlineData("{\"Answer\":\"x\",\"Confidence\":0}", "x", 0.0)]
    [InlineData("{\"answer\":\"x\",\"confidence\":1}", "x", 1.0)]
    public void A_structured_answer_yields_its_text_and_confidence(string text, string answer, double confidence)
    {
        Assert.True(CascadeConfidenceParser.TryParseAnswer(text, out var parsed, out var read));
        Assert.Equal(answer, parsed);
        Assert.Equal(confidence, read);
    }

    [Theory]
    [InlineData("Just an answer with no confidence.")]
    [InlineData("")]
    [InlineData("{\"answer\":\"x\"}")]
    [InlineData("{\"answer\":\"x\",\"confidence\":1.5}")]
    [InlineData("{\"answer\":\"x\",\"confidence\":\"high\"}")]
    [InlineData("{\"answer\":\"x\",\"confidence\":0.9")]
    public void An_answer_without_a_usable_confidence_has_none(string text)
    {
        Assert.False(CascadeConfidenceParser.TryParseAnswer(text, out _, out var confidence));
        Assert.Null(confidence);
    }

    [Fact]
    public void An_out_of_range_confidence_still_unwraps_the_answer()
    {
        Assert.False(CascadeConfidenceParser.TryParseAnswer("{\"answer\":\"Paris\",\"confidence\":7}", out var answer, out _));
        Assert.Equal("Paris", answer);
    }

    [Theory]
    [InlineData("{\"confidence\":0.3,\"reason\":\"misses a step\"}", 0.3)]
    [InlineData("0.85", 0.85)]
    [InlineData("Rating: {\"score\": 0.6}", 0.6)]
    public void A_verifier_rating_is_read(string text, double expected)
    {
        Assert.True(CascadeConfidenceParser.TryParseRating(text, out var confidence));
        Assert.Equal(expected, confidence);
    }

    [Theory]
    [InlineData("looks fine")]
    [InlineData("1.3")]
    [InlineData("{\"confidence\":-0.1}")]
    [InlineData(null)]
    public void An_unusable_rating_is_refused(string? text) =>
        Assert.False(CascadeConfidenceParser.TryParseRating(text, out _));
}
