using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Anthropic;
using Anthropic.Core;
using Microsoft.Extensions.AI;

using ModelMix.Serialization;

namespace ModelMix.Batching;

/// <summary>
/// Converts between Microsoft.Extensions.AI chat calls and the Messages wire format with the official SDK's own
/// <c>AsIChatClient</c>, so a batched call carries exactly the body a synchronous call would send (tools, images,
/// <c>cache_control</c>, thinking, stop sequences…) and its answer becomes the same <see cref="ChatResponse"/>. The SDK
/// runs in-process over an HTTP handler that never touches the network: it captures the request body, and answers
/// with the message it is given.
/// </summary>
internal sealed class AnthropicWireTranslator
{
    // Never sent anywhere: the handler answers every request itself. The SDK only needs some credential to build one.
    private const string UnusedCredential = "modelmix-wire-translator";
    private static readonly Uri NowhereUrl = new("http://modelmix-wire-translator.invalid");

    private readonly string? _defaultModel;
    private readonly int? _defaultMaxOutputTokens;

    /// <summary>Creates a translator with the SDK client's defaults (model when the options name none, <c>max_tokens</c>).</summary>
    public AnthropicWireTranslator(string? defaultModel, int? defaultMaxOutputTokens)
    {
        _defaultModel = defaultModel;
        _defaultMaxOutputTokens = defaultMaxOutputTokens;
    }

    /// <summary>The Messages request body (UTF-8 JSON) the SDK sends for this call, non-streaming.</summary>
    public async Task<byte[]> ToParamsAsync(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        var handler = new Exchange(answer: null);
        await SendAsync(handler, messages, options, cancellationToken).ConfigureAwait(false);
        return handler.Captured ?? throw new InvalidOperationException("The Anthropic SDK sent no Messages request for the batched call.");
    }

    /// <summary>The <see cref="ChatResponse"/> the SDK makes of a Messages answer (<paramref name="messageJson"/>: a <c>message</c> object).</summary>
    public Task<ChatResponse> ToResponseAsync(string messageJson, CancellationToken cancellationToken)
    {
        string? model;
        using (var document = JsonDocument.Parse(messageJson))
        {
            model = document.RootElement.TryGetProperty("model", out var m) ? m.GetString() : null;
        }

        var handler = new Exchange(messageJson);
        return SendAsync(handler, [new ChatMessage(ChatRole.User, "-")], new ChatOptions { ModelId = model ?? _defaultModel }, cancellationToken);
    }

    private async Task<ChatResponse> SendAsync(Exchange handler, IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(handler);
        using var sdk = new AnthropicClient(new ClientOptions
        {
            ApiKey = UnusedCredential,
            BaseUrl = NowhereUrl.ToString(),
            HttpClient = http,
            MaxRetries = 0,
        });
        using var chat = sdk.AsIChatClient(_defaultModel, _defaultMaxOutputTokens);
        return await chat.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Captures the one request and answers it with the given message (or an empty one).</summary>
    private sealed class Exchange(string? answer) : HttpMessageHandler
    {
        public byte[]? Captured { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Content is { } content)
            {
                Captured = await content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            }

            var body = answer ?? EmptyMessage(Captured);
            return new HttpResponseMessage(HttpStatusCode.OK)
            {
                RequestMessage = request,
                Content = new StringContent(body, new MediaTypeHeaderValue("application/json")),
            };
        }

        private static string EmptyMessage(byte[]? request)
        {
            var model = "unknown";
            if (request is not null)
            {
                using var document = JsonDocument.Parse(request);
                if (document.RootElement.TryGetProperty("model", out var m) && m.GetString() is { } named)
                {
                    model = named;
                }
            }

            return "{\"id\":\"msg_modelmix_capture\",\"type\":\"message\",\"role\":\"assistant\",\"model\":" + JsonSerializer.Serialize(model, PlainJsonContext.Default.String)
                + ",\"content\":[],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}";
        }
    }
}
