using ModelMix.Catalog;
using ModelMix.Pricing;
using ModelMix.Shadow;

namespace ModelMix.Tests.Shadow;

/// <summary>
/// The candidate and judge settings of shadow mode resolve against the price book at start: a tier (<c>haiku</c>)
/// becomes its model, <c>tier@effort</c> its model at that effort, a priced model stays as written, anything else is
/// refused naming the key (it used to start and then fail every shadow job with "Unknown model 'haiku'").
/// </summary>
public sealed class ShadowOptionsModelTests
{
    [Theory]
    [InlineData("haiku", "claude-haiku-5-5", EffortLevel.Unspecified)]
    [InlineData("Sonnet", "claude-sonnet-5-5", EffortLevel.Unspecified)]
    [InlineData("opus@low", "claude-opus-5-5", EffortLevel.Low)]
    [InlineData("claude-opus-5-5@max", "claude-opus-5-5", EffortLevel.Max)]
    [InlineData("claude-haiku-4-5", "claude-haiku-4-5", EffortLevel.Unspecified)] // an alias is sent as written
    [InlineData("claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001", EffortLevel.Unspecified)]
    public void A_tier_a_tier_with_an_effort_or_a_priced_model_resolves(string setting, string model, EffortLevel effort)
    {
        Assert.True(ShadowOptions.TryResolveModel(PriceBook.Default, setting, out var resolved, out var level));

        Assert.Equal((model, effort), (resolved, level));
    }

    [Theory]
    [InlineData("haikoo")]
    [InlineData("claude-imaginary-9")]
    [InlineData("haiku@fast")]
    [InlineData("@low")]
    public void Anything_else_does_not_resolve(string setting)
    {
        Assert.False(ShadowOptions.TryResolveModel(PriceBook.Default, setting, out _, out _));
    }

    [Fact]
    public void Validation_against_the_price_book_names_the_key_and_what_it_accepts()
    {
        var options = new ShadowOptions { CandidateModel = "haikoo", DefaultRate = 1, Comparison = ShadowComparison.Judge, JudgeModel = "sonnet@low" };

        var errors = options.Validate(PriceBook.Default, "ModelMix:Shadow:");

        Assert.Equal(2, errors.Count);
        Assert.StartsWith("ModelMix:Shadow:CandidateModel 'haikoo' is neither a tier (haiku, sonnet, opus, fable) nor a model in the price book", errors[0], StringComparison.Ordinal);
        Assert.Contains("opus@low", errors[0], StringComparison.Ordinal);
        Assert.StartsWith("ModelMix:Shadow:JudgeModel 'sonnet@low' is neither a tier", errors[1], StringComparison.Ordinal);
        Assert.Contains("without an effort", errors[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Tiers_pass_validation()
    {
        var options = new ShadowOptions { CandidateModel = "haiku", DefaultRate = 1, Comparison = ShadowComparison.Judge, JudgeModel = "sonnet" };

        Assert.Empty(options.Validate(PriceBook.Default, "ModelMix:Shadow:"));
        Assert.Empty(options.Validate()); // the checks that need no price book accept them too
    }
}
