using System.Text.Json;
using Microsoft.Extensions.AI;
using ModelMix.Pipeline;
using ModelMix.Routing;

namespace ModelMix.Tests.Pipeline;

public sealed class RoutingFeatureTests
{
    private static AIFunction Tool(string name) => AIFunctionFactory.Create(() => "ok", name);

    [Fact]
    public void Keyword_text_is_the_newest_user_turn_only_not_the_instructions_or_the_system_prompt()
    {
        // Since 0db8d30 keyword rules judge the newest user turn a person wrote (docs/routing.md): an agent's long, fixed
        // system prompt or instructions would otherwise match the same rule on every call.
        List<ChatMessage> messages =
        [
            new(ChatRole.System, "You are a support triage bot."),
            new(ChatRole.User, "My invoice is wrong."),
            new(ChatRole.Assistant, "Which invoice?"),
            new(ChatRole.User, "Classify this ticket: invoice 42 double-charged."),
        ];

        var request = ChatRoutingRequest.From(messages, new ChatOptions { Instructions = "Answer in JSON." });

        Assert.Equal("Classify this ticket: invoice 42 double-charged.", request.Text.ToString());
        Assert.Equal(3, request.ConversationDepth);
    }

    [Fact]
    public void The_token_estimate_covers_all_text_including_tool_calls_and_results()
    {
        var allText = "Answer." + "q1" + "a1" + "lookup" + "id" + "42" + "row data" + "q2";
        List<ChatMessage> messages =
        [
            new(ChatRole.User, "q1"),
            new(ChatRole.Assistant, [new TextContent("a1"), new FunctionCallContent("c1", "lookup", new Dictionary<string, object?> { ["id"] = 42 })]),
            new(ChatRole.Tool, [new FunctionResultContent("c1", "row data")]),
            new(ChatRole.User, "q2"),
        ];

        var request = ChatRoutingRequest.From(messages, new ChatOptions { Instructions = "Answer." });

        Assert.Equal(TokenEstimator.Estimate(allText), request.EstimatedInputTokens);
    }

    [Fact]
    public void Labels_tools_limits_session_key_and_requested_model_come_from_the_options()
    {
        var options = new ChatOptions { ModelId = "auto", MaxOutputTokens = 300, Tools = [Tool("a"), Tool("b"), Tool("c")] }
            .WithTaskLabel("extraction").WithSessionId("s-1").WithKeyId("k-1");

        var request = ChatRoutingRequest.From([new(ChatRole.User, "hi")], options);

        Assert.Equal("extraction", request.TaskLabel);
        Assert.Equal(3, request.ToolCount);
        Assert.Equal(300, request.MaxTokens);
        Assert.Equal("s-1", request.SessionId);
        Assert.Equal("k-1", request.KeyId);
        Assert.Equal("auto", request.RequestedModel);
        Assert.False(request.StructuredOutput);
        Assert.False(request.HasImages);
    }

    [Fact]
    public void Without_options_the_features_are_empty_but_the_text_is_read()
    {
        var request = ChatRoutingRequest.From([new(ChatRole.User, "Tag these photos.")], null);

        Assert.Null(request.TaskLabel);
        Assert.Null(request.RequestedModel);
        Assert.Null(request.MaxTokens);
        Assert.Equal(0, request.ToolCount);
        Assert.Equal("Tag these photos.", request.Text.ToString());
        Assert.Equal(1, request.ConversationDepth);
    }

    [Theory]
    [InlineData("image/png", true)]
    [InlineData("image/jpeg", true)]
    [InlineData("application/pdf", false)]
    public void Images_are_found_in_data_and_uri_contents_by_media_type(string mediaType, bool isImage)
    {
        var data = ChatRoutingRequest.From([new(ChatRole.User, [new TextContent("what is this?"), new DataContent(new byte[] { 1, 2, 3 }, mediaType)])], null);
        var uri = ChatRoutingRequest.From([new(ChatRole.User, [new UriContent(new Uri("https://example.com/x"), mediaType)])], null);

        Assert.Equal(isImage, data.HasImages);
        Assert.Equal(isImage, uri.HasImages);
    }

    [Fact]
    public void Structured_output_is_a_json_response_format_or_a_required_tool()
    {
        using var schema = JsonDocument.Parse("""{"type":"object","properties":{"label":{"type":"string"}}}""");
        Assert.True(ChatRoutingRequest.IsStructured(new ChatOptions { ResponseFormat = ChatResponseFormat.Json }));
        Assert.True(ChatRoutingRequest.IsStructured(new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema.RootElement, "label") }));
        Assert.True(ChatRoutingRequest.IsStructured(new ChatOptions { ToolMode = ChatToolMode.RequireAny, Tools = [Tool("a")] }));
        Assert.True(ChatRoutingRequest.IsStructured(new ChatOptions { ToolMode = ChatToolMode.RequireSpecific("a"), Tools = [Tool("a")] }));
        Assert.False(ChatRoutingRequest.IsStructured(new ChatOptions { ResponseFormat = ChatResponseFormat.Text }));
        Assert.False(ChatRoutingRequest.IsStructured(new ChatOptions { ToolMode = ChatToolMode.Auto, Tools = [Tool("a")] }));
        Assert.False(ChatRoutingRequest.IsStructured(null));
    }

    [Fact]
    public void A_short_classification_prompt_and_an_architecture_review_get_different_default_rule_decisions()
    {
        var rules = DefaultRules.Create();
        var classify = ChatRoutingRequest.From([new(ChatRole.User, "Classify the sentiment of this review as positive, negative or neutral: 'Great fit.'")], null);
        var review = ChatRoutingRequest.From([new(ChatRole.User, "Please do an architecture review of our payment service and its failure modes.")], null);

        Assert.True(rules.TryDecide(classify, out var cheap));
        Assert.True(rules.TryDecide(review, out var strong));
        Assert.Equal("claude-haiku-5-5", cheap.Model); // the haiku tier of the default catalog
        Assert.StartsWith("claude-opus", strong.Model, StringComparison.Ordinal);
    }
}
