using System.Text.Json;
using Microsoft.Extensions.AI;
using ModelMix.Catalog;
using ModelMix.Pipeline;

namespace ModelMix.Tests.Catalog;

/// <summary>Both doors extract the same traits: the proxy from the JSON body, the library from ChatOptions.</summary>
public sealed class RequestTraitsReaderTests
{
    [Fact]
    public void The_proxy_reads_every_trait_from_a_messages_body()
    {
        using var body = JsonDocument.Parse("""
            {"model": "auto", "max_tokens": 10, "tool_choice": {"type": "tool", "name": "f"},
             "thinking": {"type": "disabled"}, "output_config": {"effort": "xhigh"}, "top_p": 0.9, "speed": "fast", "inference_geo": "us",
             "tools": [{"name": "f", "input_schema": {}}, {"type": "computer_20251124", "name": "computer"}],
             "messages": [{"role": "user", "content": "hi"},
                          {"role": "assistant", "content": [{"type": "thinking", "thinking": "", "signature": "s"}, {"type": "text", "text": "Sure:"}]}]}
            """);

        var traits = RequestTraitsReader.Read(body.RootElement);

        Assert.Equal(ToolChoiceMode.Tool, traits.ToolChoice);
        Assert.Equal(ThinkingMode.Disabled, traits.Thinking);
        Assert.Equal(EffortLevel.XHigh, traits.Effort);
        Assert.True(traits.NonDefaultSampling);
        Assert.True(traits.AssistantPrefill);
        Assert.True(traits.CarriesThinking);
        Assert.Equal(["computer_20251124"], traits.ToolTypes);
        Assert.True(traits.FastMode);
        Assert.True(traits.InferenceGeo);
    }

    [Fact]
    public void Default_sampling_and_a_plain_request_have_no_traits()
    {
        using var body = JsonDocument.Parse("""{"model": "auto", "max_tokens": 10, "temperature": 1, "speed": "standard", "tools": [{"name": "f", "input_schema": {}}], "messages": [{"role": "user", "content": "hi"}]}""");

        Assert.Equal(default, RequestTraitsReader.Read(body.RootElement));
    }

    [Fact]
    public void The_library_reads_the_same_traits_from_chat_options()
    {
        var options = new ChatOptions
        {
            ToolMode = ChatToolMode.RequireAny,
            Temperature = 0.2f,
            Reasoning = new ReasoningOptions { Effort = ReasoningEffort.ExtraHigh },
        };

        var request = ChatRoutingRequest.From([new ChatMessage(ChatRole.User, "hi"), new ChatMessage(ChatRole.Assistant, "Sure:")], options);

        Assert.Equal(ToolChoiceMode.Any, request.Traits.ToolChoice);
        Assert.True(request.Traits.NonDefaultSampling);
        Assert.Equal(EffortLevel.XHigh, request.Traits.Effort);
        Assert.True(request.Traits.AssistantPrefill);
        Assert.Equal(ThinkingMode.Disabled, ChatRoutingRequest.TraitsOf(new ChatOptions { Reasoning = new ReasoningOptions { Effort = ReasoningEffort.None } }).Thinking);
    }
}
