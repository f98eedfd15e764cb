using Microsoft.Extensions.AI;
using ModelMix.Catalog;
using ModelMix.IntegrationTests.Pipeline;
using ModelMix.Pipeline;

namespace ModelMix.IntegrationTests.Catalog;

/// <summary>
/// What the official SDK's <c>AsIChatClient</c> sends for <see cref="ChatOptions.Reasoning"/>, which the library door's
/// effort and its request traits rely on: an effort level goes out as <c>output_config.effort</c> with adaptive
/// thinking, <see cref="ReasoningEffort.None"/> as thinking disabled.
/// </summary>
public sealed class SdkEffortMappingTests : LedgerPipelineTest
{
    [Theory]
    [InlineData(ReasoningEffort.Low, "low")]
    [InlineData(ReasoningEffort.Medium, "medium")]
    [InlineData(ReasoningEffort.High, "high")]
    [InlineData(ReasoningEffort.ExtraHigh, "xhigh")]
    public async Task An_effort_level_is_sent_as_output_config_effort_with_adaptive_thinking(ReasoningEffort effort, string wire)
    {
        using var client = Sdk.AsIChatClient("claude-opus-5");
        var options = new ChatOptions { MaxOutputTokens = 64, Reasoning = new ReasoningOptions { Effort = effort } };

        await client.GetResponseAsync("hi", options);

        var body = Assert.Single(Server.MessageRequests).Json!;
        Assert.Equal(wire, body["output_config"]!["effort"]!.GetValue<string>());
        Assert.Equal("adaptive", body["thinking"]!["type"]!.GetValue<string>());
        var traits = ChatRoutingRequest.TraitsOf(options);
        Assert.Equal(ThinkingMode.Adaptive, traits.Thinking);
        Assert.Equal(wire, RequestTraitsReader.WireName(traits.Effort));
    }

    [Fact]
    public async Task ReasoningEffort_None_is_sent_as_thinking_disabled()
    {
        using var client = Sdk.AsIChatClient("claude-opus-5");
        var options = new ChatOptions { MaxOutputTokens = 64, Reasoning = new ReasoningOptions { Effort = ReasoningEffort.None } };

        await client.GetResponseAsync("hi", options);

        var body = Assert.Single(Server.MessageRequests).Json!;
        Assert.Equal("disabled", body["thinking"]!["type"]!.GetValue<string>());
        Assert.Null(body["output_config"]);
        Assert.Equal(ThinkingMode.Disabled, ChatRoutingRequest.TraitsOf(options).Thinking);
    }
}
