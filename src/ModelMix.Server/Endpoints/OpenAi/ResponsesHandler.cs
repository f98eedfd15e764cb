using Microsoft.AspNetCore.Http;
using ModelMix.Pricing;

namespace ModelMix.Server.OpenAi;

/// <summary>
/// Serves <c>POST /v1/responses</c> (OpenAI's Responses API, stateless): translates the request into an Anthropic
/// Messages body, runs it through the same routing, budgets, caching, forwarding, retries and ledger as
/// <c>/v1/messages</c> and <c>/v1/chat/completions</c>, and translates the answer back. Every other
/// <c>/v1/responses/…</c> path (retrieving, cancelling or listing stored responses) answers a 400 naming the limitation.
/// </summary>
internal sealed class ResponsesHandler
{
    private readonly OpenAiDoorSteps _steps;
    private readonly PriceBook _catalog;
    private readonly TimeProvider _time;

    public ResponsesHandler(AuthGate auth, ProxyRequestReader reader, ProxyRouter router, ProxyPipeline pipeline, PriceBook catalog, TimeProvider time)
    {
        _steps = new(auth, reader, router, pipeline);
        _catalog = catalog;
        _time = time;
    }

    /// <summary>Handles one <c>POST /v1/responses</c>.</summary>
    public Task HandleAsync(HttpContext context)
    {
        var createdAt = _time.GetUtcNow().ToUnixTimeSeconds();
        return OpenAiDoor.ServeAsync(context, _steps, new ResponsesDialect(createdAt, []), (body, dropSampling) =>
        {
            var translated = ResponsesRequestTranslator.Translate(body, dropSampling, _catalog);
            return (translated.AnthropicBody, new ResponsesDialect(createdAt, translated.Echo));
        });
    }

    /// <summary>
    /// Answers any other <c>/v1/responses/…</c> request (<c>GET /v1/responses/{id}</c>, <c>…/cancel</c>,
    /// <c>…/input_items</c>, <c>DELETE</c>, <c>input_tokens</c>, <c>compact</c>): a 400 naming the limitation, after the
    /// same key check as the other endpoints.
    /// </summary>
    public async Task RefuseStatefulAsync(HttpContext context)
    {
        var requestId = OpenAiDoor.Start(context);
        if (await _steps.Auth.AuthenticateAsync(context, requestId, new ResponsesDialect(0, [])) is null)
        {
            return;
        }

        await OpenAiError.WriteAsync(
            context,
            400,
            $"Stored responses (GET or DELETE /v1/responses/{{id}}, cancel, input_items, input_tokens, compact) are not supported: {ResponsesRequestTranslator.Stateless} Only POST /v1/responses is served.");
    }
}
