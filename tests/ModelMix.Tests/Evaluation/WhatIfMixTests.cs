using ModelMix.Evaluation;
using ModelMix.Pricing;

namespace ModelMix.Tests.Evaluation;

public sealed class WhatIfMixTests
{
    private static readonly PriceBook Book = PriceBook.Default;

    [Fact]
    public void An_entry_may_name_an_effort_the_model_accepts_and_one_model_may_appear_at_two_efforts()
    {
        var mix = WhatIfMix.Parse("opus=50, opus@LOW=30 ,haiku@max=20", Book);

        Assert.Equal(
            new KeyValuePair<string, decimal>[] { new("claude-opus-5-5", 0.5m), new("claude-opus-5-5@low", 0.3m), new("claude-haiku-5-5@max", 0.2m) },
            mix.Shares);
        Assert.True(mix.HasEffort);
        Assert.Equal(ModelMix.Catalog.EffortLevel.Low, mix.Entries[1].Effort);
        Assert.False(WhatIfMix.Parse("opus=100", Book).HasEffort);
    }

    [Theory]
    [InlineData("claude-haiku-4-5@low=100", "claude-haiku-4-5-20251001 takes no effort parameter")]
    [InlineData("claude-opus-4-5@xhigh=100", "claude-opus-4-5-20251101 does not accept the requested effort level")]
    [InlineData("opus@turbo=100", "the effort after '@' must be low, medium, high, xhigh or max")]
    [InlineData("opus@low=50,opus@low=50", "appears twice")]
    public void An_effort_the_model_does_not_accept_is_refused(string text, string expected)
    {
        var error = Assert.Throws<FormatException>(() => WhatIfMix.Parse(text, Book));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tiers_resolve_to_the_tier_models_with_fractional_shares_in_order()
    {
        var mix = WhatIfMix.Parse("haiku=70,sonnet=20,opus=10", Book);

        Assert.Equal("haiku=70,sonnet=20,opus=10", mix.Text);
        // The default catalog's tier models.
        Assert.Equal(
            new KeyValuePair<string, decimal>[] { new("claude-haiku-5-5", 0.7m), new("claude-sonnet-5-5", 0.2m), new("claude-opus-5-5", 0.1m) },
            mix.Shares);
    }

    [Fact]
    public void Model_ids_aliases_spaces_percent_signs_and_tier_case_are_accepted()
    {
        var mix = WhatIfMix.Parse(" claude-haiku-4-5 = 25% , claude-sonnet-4-5-20250929=25.5, Opus=49.5 ", Book);

        Assert.Equal(
            new KeyValuePair<string, decimal>[] { new("claude-haiku-4-5-20251001", 0.25m), new("claude-sonnet-4-5-20250929", 0.255m), new("claude-opus-5-5", 0.495m) }, // "Opus" → the default opus tier
            mix.Shares);
    }

    [Theory]
    [InlineData("haiku=70,sonnet=20", "90")]
    [InlineData("haiku=70,sonnet=20,opus=20", "110")]
    [InlineData("haiku=33.33,sonnet=33.33,opus=33.33", "99.99")]
    public void Shares_must_add_up_to_100_and_the_error_names_the_sum(string text, string sum)
    {
        var error = Assert.Throws<FormatException>(() => WhatIfMix.Parse(text, Book));

        Assert.Contains($"add up to {sum}%", error.Message);
    }

    [Theory]
    [InlineData("haiku", "is not name=percent")]
    [InlineData("=100", "is not name=percent")]
    [InlineData("haiku=50=50", "is not name=percent")]
    [InlineData("haiku=", "must be a percentage")]
    [InlineData("haiku=abc", "must be a percentage")]
    [InlineData("haiku=0,sonnet=100", "must be a percentage")]
    [InlineData("haiku=-10,sonnet=110", "must be a percentage")]
    [InlineData("haiku=150", "must be a percentage")]
    [InlineData("", "at least one")]
    [InlineData(" , ", "at least one")]
    public void Malformed_parts_are_refused_with_a_message_that_shows_the_form(string text, string expected)
    {
        var error = Assert.Throws<FormatException>(() => WhatIfMix.Parse(text, Book));

        Assert.Contains(expected, error.Message);
        Assert.StartsWith("--mix:", error.Message);
    }

    [Fact]
    public void The_same_model_twice_under_different_names_is_refused()
    {
        // The tier name and the id of the model it names (the default haiku tier is claude-haiku-5-5).
        var error = Assert.Throws<FormatException>(() => WhatIfMix.Parse("haiku=50,claude-haiku-5-5=50", Book));

        Assert.Contains("claude-haiku-5-5", error.Message);
        Assert.Contains("appears twice", error.Message);
    }

    [Fact]
    public void An_unknown_model_is_a_format_error_that_names_it()
    {
        var error = Assert.Throws<FormatException>(() => WhatIfMix.Parse("haiku=50,gpt-4o=50", Book));

        Assert.Contains("'gpt-4o'", error.Message);
        Assert.Contains("neither a tier", error.Message);
        Assert.IsAssignableFrom<PricingException>(error.InnerException);
    }
}
