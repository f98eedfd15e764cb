using Microsoft.AspNetCore.Http;

namespace ModelMix.Server.OpenAi;

/// <summary>
/// Serves <c>POST /v1/chat/completions</c>: translates the OpenAI request into an Anthropic Messages body, runs it
/// through the same routing, forwarding, retries and ledger as <c>/v1/messages</c>, and translates the answer back.
/// </summary>
internal sealed class ChatCompletionsHandler
{
    /// <summary>The first <c>anthropic-version</c> that removed <c>temperature</c> and <c>top_p</c>.</summary>
    private const string SamplingRemovedVersion = "2026-10-21";

    private readonly MessagesForwarder _forwarder;
    private readonly ProxyRouter _router;
    private readonly TimeProvider _time;

    public ChatCompletionsHandler(MessagesForwarder forwarder, ProxyRouter router, TimeProvider time)
    {
        _forwarder = forwarder;
        _router = router;
        _time = time;
    }

    /// <summary>Handles one request.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var requestId = ProxyRequestId.New();
        context.Response.Headers["x-modelmix-request-id"] = requestId;
        var created = _time.GetUtcNow().ToUnixTimeSeconds();
        var errors = new OpenAiDialect(includeUsage: false, created);

        // Virtual keys: the same gate as /v1/messages, answering 401 in OpenAI's shape.
        var caller = await _forwarder.AuthenticateAsync(context, requestId, errors);
        if (caller is null)
        {
            return;
        }

        var body = await _forwarder.ReadBodyAsync(context, errors);
        if (body is null)
        {
            return;
        }

        // Versions are dates, so they compare as strings.
        var dropSampling = string.CompareOrdinal(_forwarder.AnthropicVersionOf(context), SamplingRemovedVersion) >= 0;
        OpenAiTranslatedRequest translated;
        try
        {
            translated = OpenAiRequestTranslator.Translate(body, dropSampling);
        }
        catch (OpenAiRequestException exception)
        {
            await OpenAiError.WriteAsync(context, 400, exception.Message, exception.Param);
            return;
        }

        if (!MessagesRequest.TryParse(translated.AnthropicBody, out var request, out var error))
        {
            await OpenAiError.WriteAsync(context, 400, error!);
            return;
        }

        var (anthropicBody, canonical) = _router.WithCatalogName(translated.AnthropicBody, request!); // one spelling per model
        await _forwarder.ForwardAsync(context, requestId, anthropicBody, canonical, new OpenAiDialect(translated.IncludeUsage, created), caller);
    }
}
