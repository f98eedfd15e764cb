using ModelMix.Routing;

namespace ModelMix.Tests.Cascade;

public sealed class MetaRouterClassificationTests
{
    private static readonly string[] Tiers = ["haiku", "sonnet", "opus"];

    [Theory]
    [InlineData("{\"tier\":\"haiku\",\"reason\":\"short extraction\"}", "haiku", "short extraction")]
    [InlineData("{\"tier\":\"OPUS\",\"reason\":\"security review\"}", "opus", "security review")]
    [InlineData("```json\n{\"tier\": \"sonnet\", \"reason\": \"prose for people\"}\n```", "sonnet", "prose for people")]
    [InlineData("{\"tier\":\"sonnet\"}", "sonnet", "")]
    public void A_well_formed_classification_names_a_configured_tier(string text, string tier, string reason)
    {
        var classification = MetaRouterClassification.Parse(text, Tiers);

        Assert.True(classification.IsValid);
        Assert.Equal(tier, classification.Tier);
        Assert.Equal(reason, classification.Reason);
    }

    [Theory]
    [InlineData("", "empty answer")]
    [InlineData("I think sonnet would be best.", "not JSON")]
    [InlineData("{\"tier\": \"gpt-5\", \"reason\": \"x\"}", "unknown tier 'gpt-5'")]
    [InlineData("{\"reason\": \"x\"}", "no 'tier'")]
    [InlineData("{\"tier\": 2}", "no 'tier'")]
    [InlineData("{\"tier\": \"haiku\"", "not JSON")]
    public void A_malformed_classification_says_why(string text, string error)
    {
        var classification = MetaRouterClassification.Parse(text, Tiers);

        Assert.False(classification.IsValid);
        Assert.Null(classification.Tier);
        Assert.Contains(error, classification.Error, StringComparison.Ordinal);
    }
}
