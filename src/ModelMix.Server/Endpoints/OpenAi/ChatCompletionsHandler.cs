using Microsoft.AspNetCore.Http;

namespace ModelMix.Server.OpenAi;

/// <summary>
/// Serves <c>POST /v1/chat/completions</c>: translates the OpenAI request into an Anthropic Messages body, runs it
/// through the same routing, forwarding, retries and ledger as <c>/v1/messages</c>, and translates the answer back.
/// </summary>
internal sealed class ChatCompletionsHandler
{
    private readonly OpenAiDoorSteps _steps;
    private readonly TimeProvider _time;

    public ChatCompletionsHandler(AuthGate auth, ProxyRequestReader reader, ProxyRouter router, ProxyPipeline pipeline, TimeProvider time)
    {
        _steps = new(auth, reader, router, pipeline);
        _time = time;
    }

    /// <summary>Handles one request.</summary>
    public Task HandleAsync(HttpContext context)
    {
        var created = _time.GetUtcNow().ToUnixTimeSeconds();
        return OpenAiDoor.ServeAsync(context, _steps, new OpenAiDialect(includeUsage: false, created), (body, dropSampling) =>
        {
            var translated = OpenAiRequestTranslator.Translate(body, dropSampling);
            return (translated.AnthropicBody, new OpenAiDialect(translated.IncludeUsage, created));
        });
    }
}
