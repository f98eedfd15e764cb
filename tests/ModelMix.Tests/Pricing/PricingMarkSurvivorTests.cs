using System.Text.Json;
using ModelMix.Pricing;
using SdkMessageDeltaUsage = Anthropic.Models.Messages.MessageDeltaUsage;
using SdkModel = Anthropic.Models.Messages.Model;

namespace ModelMix.Tests.Pricing;

/// <summary>
/// Survivors of the pricing area's mutation runs that docs/testing.md listed as equivalent but that a test can tell
/// apart (found while marking the equivalent ones in the source): the refusal of a usage that is not an object, a new
/// cache total below the known writes, a short SDK enum name. And the check that makes <c>SdkModelId</c>'s mutants
/// equivalent: the SDK's wire id of every model is the spelling the naming convention gives.
/// </summary>
public sealed class PricingMarkSurvivorTests
{
    [Fact]
    public void A_usage_that_is_an_array_is_refused_as_an_array()
    {
        // Without the up-front check the field reader refuses it too, but as "StartArray" (its token, not its kind).
        using var document = JsonDocument.Parse("[1]");

        var fromJson = Assert.Throws<ArgumentException>(() => AnthropicUsage.FromJson(document.RootElement));
        Assert.StartsWith("A usage object must be a JSON object, not Array.", fromJson.Message, StringComparison.Ordinal);
        var merge = Assert.Throws<ArgumentException>(() => AnthropicUsage.MergeDelta(default(TokenUsage), document.RootElement));
        Assert.StartsWith("A usage object must be a JSON object, not Array.", merge.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_new_cache_total_below_the_known_writes_keeps_the_1h_writes_and_makes_the_rest_5m()
    {
        // Known so far: 10 5-minute and 2 1-hour writes (12). A delta says 8 in all, with no breakdown: the 2 1-hour
        // writes are kept and the rest, 8 - 2 = 6, are 5-minute writes. (8 is also 10 - 2: a split that took the
        // difference for the sum would keep 10 and 2.)
        var start = new TokenUsage(100, 5, 10, 2, 0);
        using var document = JsonDocument.Parse("""{"cache_creation_input_tokens":8}""");

        var wire = AnthropicUsage.MergeDelta(start, document.RootElement);
        var sdk = AnthropicUsage.MergeDelta(start, JsonSerializer.Deserialize<SdkMessageDeltaUsage>("""{"cache_creation_input_tokens":8,"output_tokens":5}""")!);

        Assert.Equal((6L, 2L), (wire.CacheWrite5mTokens, wire.CacheWrite1hTokens));
        Assert.Equal((6L, 2L), (sdk.CacheWrite5mTokens, sdk.CacheWrite1hTokens));
    }

    [Fact]
    public void A_breakdown_without_a_total_counts_both_parts()
    {
        // No cache_creation_input_tokens: the breakdown's 100 5-minute and 50 1-hour writes are the writes.
        using var document = JsonDocument.Parse("""{"input_tokens":1,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":50}}""");

        var usage = AnthropicUsage.FromJson(document.RootElement);

        Assert.Equal((100L, 50L), (usage.CacheWrite5mTokens, usage.CacheWrite1hTokens));
    }

    [Theory]
    [InlineData("Opus5", "opus-5")]
    [InlineData("A", "a")]
    public void Short_enum_names_map_too(string name, string id)
    {
        Assert.Equal(id, PriceBook.KebabFromEnumName(name));
    }

    [Fact]
    public void Every_sdk_model_s_wire_id_is_the_naming_convention_s_spelling()
    {
        // PriceBook.SdkModelId reads the wire id and falls back to KebabFromEnumName when reflection-based JSON is off;
        // the two must agree for every model the pinned SDK knows, member by member.
        var values = Enum.GetValues<SdkModel>();
        Assert.NotEmpty(values);
        Assert.All(values, value =>
        {
            Anthropic.Core.ApiEnum<string, SdkModel> wire = value;
            Assert.Equal(wire.Raw(), PriceBook.KebabFromEnumName(value.ToString()));
        });
    }
}
