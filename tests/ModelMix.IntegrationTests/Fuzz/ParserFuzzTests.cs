using System.Text.Json;
using CsCheck;
using ModelMix.Server;
using ModelMix.Server.OpenAi;

namespace ModelMix.IntegrationTests.Fuzz;

/// <summary>
/// In-process property tests over the request parsers with generated hostile bodies (see <see cref="HostileInput"/>):
/// <see cref="HostileInput.Iterations"/> cases each (3,000 in CI; <c>MODELMIX_FUZZ_ITERATIONS</c> raises it).
/// </summary>
public sealed class ParserFuzzTests
{
    private const string RoutedModel = "claude-sonnet-4-5";

    private static readonly Gen<byte[]> AnthropicBodies = HostileInput.Damaged(HostileInput.AnthropicJson);
    private static readonly Gen<byte[]> OpenAiBodies = HostileInput.Damaged(HostileInput.OpenAiJson);
    private static readonly Gen<byte[]> ResponsesBodies = HostileInput.Damaged(HostileInput.ResponsesJson);

    [Fact]
    public void Messages_parser_never_throws_and_an_accepted_request_is_consistent() =>
        AnthropicBodies.Sample(CheckMessagesRequest, seed: HostileInput.Seed, iter: HostileInput.Iterations, print: HostileInput.Print);

    [Fact]
    public void Body_rewriter_on_an_accepted_body_changes_only_the_model() =>
        AnthropicBodies.Sample(CheckRewrite, seed: HostileInput.Seed, iter: HostileInput.Iterations, print: HostileInput.Print);

    [Fact]
    public void OpenAi_translator_returns_an_accepted_messages_body_or_throws_its_own_exception() =>
        OpenAiBodies.Sample(CheckTranslation, seed: HostileInput.Seed, iter: HostileInput.Iterations, print: HostileInput.Print);

    [Fact]
    public void Responses_translator_returns_an_accepted_messages_body_or_throws_its_own_exception() =>
        ResponsesBodies.Sample(CheckResponsesTranslation, seed: HostileInput.Seed, iter: HostileInput.Iterations, print: HostileInput.Print);

    internal static void CheckMessagesRequest(byte[] body)
    {
        var accepted = MessagesRequest.TryParse(body, out var request, out var error);
        if (!accepted)
        {
            Assert.Null(request);
            Assert.False(string.IsNullOrWhiteSpace(error));
            return;
        }

        Assert.Null(error);
        Assert.NotNull(request);
        Assert.False(string.IsNullOrWhiteSpace(request.Model));
        Assert.True(request.MaxTokens >= 1);
        Assert.True(request.MessageCount >= 0);
        Assert.Equal(request.Model, request.Features.RequestedModel);
        Assert.Equal(request.MaxTokens, request.Features.MaxTokens);
        Assert.Equal(request.MessageCount, request.Features.ConversationDepth);
        Assert.True(request.Features.EstimatedInputTokens >= 0);
        Assert.True(request.Features.ToolCount >= 0);

        // The request agrees with what a JSON reader sees in the body.
        using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 128 });
        Assert.Equal(request.Model, document.RootElement.GetProperty("model").GetString());
        Assert.Equal(request.MaxTokens, document.RootElement.GetProperty("max_tokens").GetInt64());
        Assert.Equal(request.MessageCount, document.RootElement.GetProperty("messages").GetArrayLength());
    }

    internal static void CheckRewrite(byte[] body)
    {
        if (!MessagesRequest.TryParse(body, out var before, out _))
        {
            return;
        }

        var rewritten = RequestBodyRewriter.ReplaceModel(body, RoutedModel);

        // Valid JSON the parser accepts, naming the new model and nothing else changed.
        Assert.True(MessagesRequest.TryParse(rewritten, out var after, out var error), error);
        Assert.Equal(RoutedModel, after!.Model);
        Assert.Equal(before!.MaxTokens, after.MaxTokens);
        Assert.Equal(before.Stream, after.Stream);
        Assert.Equal(before.MessageCount, after.MessageCount);
        Assert.Equal(Tokens(body, replaceModelWith: RoutedModel), Tokens(rewritten, replaceModelWith: null));
    }

    internal static void CheckTranslation(byte[] body)
    {
        OpenAiTranslatedRequest translated;
        try
        {
            translated = OpenAiRequestTranslator.Translate(body, dropSamplingParameters: false);
        }
        catch (OpenAiRequestException exception)
        {
            Assert.False(string.IsNullOrWhiteSpace(exception.Message));
            return;
        }

        CheckTranslated(translated.AnthropicBody, translated.Stream);
    }

    /// <summary>A translation of an accepted body is a Messages body the parser accepts, and stable under the model rewrite.</summary>
    private static void CheckTranslated(byte[] anthropicBody, bool stream)
    {
        Assert.True(MessagesRequest.TryParse(anthropicBody, out var request, out var error), error);
        Assert.Equal(stream, request!.Stream);
        Assert.True(request.MessageCount >= 1);
        CheckRewrite(anthropicBody);
    }

    internal static void CheckResponsesTranslation(byte[] body)
    {
        ResponsesTranslatedRequest translated;
        try
        {
            translated = ResponsesRequestTranslator.Translate(body, dropSamplingParameters: false, ModelMix.Pricing.PriceBook.Default);
        }
        catch (OpenAiRequestException exception)
        {
            Assert.False(string.IsNullOrWhiteSpace(exception.Message));
            return;
        }

        CheckTranslated(translated.AnthropicBody, translated.Stream);
        Assert.NotEmpty(OpenAiJson.ToUtf8(translated.Echo)); // the request's parameters the response repeats are writable JSON
    }

    /// <summary>The body's tokens (type and raw value), with the top-level model's value replaced when asked.</summary>
    private static List<string> Tokens(byte[] body, string? replaceModelWith)
    {
        var tokens = new List<string>();
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
        var replaced = false;
        var nextIsModel = false;
        while (reader.Read())
        {
            var raw = reader.HasValueSequence ? string.Empty : Convert.ToHexString(reader.ValueSpan);
            if (nextIsModel && replaceModelWith is not null && !replaced)
            {
                raw = Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(replaceModelWith));
                replaced = true;
            }

            nextIsModel = reader.CurrentDepth == 1 && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("model"u8) && !replaced;
            tokens.Add($"{reader.TokenType}:{reader.CurrentDepth}:{raw}");
        }

        return tokens;
    }
}
