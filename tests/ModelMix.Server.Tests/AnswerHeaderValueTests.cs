using ModelMix.Server;

namespace ModelMix.Server.Tests;

/// <summary>
/// <see cref="AnswerHeaders.HeaderValue"/>: a routing reason or policy sent as a header is printable ASCII (Kestrel
/// refuses anything else); text that already is goes out as it is, without a copy (it is sent on every answer).
/// </summary>
public sealed class AnswerHeaderValueTests
{
    [Fact]
    public void Text_that_is_already_a_valid_header_value_is_returned_as_it_is()
    {
        var reason = string.Concat("short prompt without tools", " (", "rules", ")"); // built at run time, as reasons are
        Assert.Same(reason, AnswerHeaders.HeaderValue(reason));
        Assert.Same(string.Empty, AnswerHeaders.HeaderValue(string.Empty));
        var longest = new string('a', AnswerHeaders.MaxReasonLength);
        Assert.Same(longest, AnswerHeaders.HeaderValue(longest));
    }

    [Theory]
    [InlineData("escalated → claude-opus-5-5 (confidence ≤ 0.70)", "escalated -> claude-opus-5-5 (confidence <= 0.70)")]
    [InlineData("  padded\treason\n", "padded reason")]
    [InlineData("tier — fit … ok", "tier - fit ... ok")]
    [InlineData("café", "caf?")]
    public void Other_text_is_converted_the_same_way_every_time(string text, string expected)
    {
        Assert.Equal(expected, AnswerHeaders.HeaderValue(text));
        Assert.Equal(expected, AnswerHeaders.HeaderValue(new string(text.AsSpan()))); // a second, equal text: the same answer
    }

    [Fact]
    public void A_text_longer_than_the_limit_is_cut_with_an_ellipsis()
    {
        var value = AnswerHeaders.HeaderValue(new string('b', AnswerHeaders.MaxReasonLength + 1));
        Assert.Equal(AnswerHeaders.MaxReasonLength, value.Length);
        Assert.EndsWith("b...", value, StringComparison.Ordinal);
    }
}
