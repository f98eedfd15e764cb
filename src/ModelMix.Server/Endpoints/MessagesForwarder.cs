using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace ModelMix.Server;

/// <summary>
/// Serves <c>POST /v1/messages</c>: the door's own steps (request id, auth, body, parse, the model's catalog spelling,
/// the <c>x-modelmix-batch</c> header), then the proxy's pipeline (<see cref="ProxyPipeline"/>), which forwards the
/// body's bytes unchanged to the upstream, retries what is retryable before any byte reached the client, relays the
/// answer (streams event by event), and records every attempt, priced, in the ledger.
/// </summary>
internal sealed class MessagesForwarder(AuthGate auth, ProxyRequestReader reader, ProxyRouter router, ProxyPipeline pipeline, IServiceProvider services)
{
    // Taken from the root provider when first needed (not through HttpContext.RequestServices, which opens a DI scope per request).
    private readonly Lazy<BatchQueue> _batches = new(services.GetRequiredService<BatchQueue>);

    /// <summary>Handles one <c>POST /v1/messages</c> request.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var requestId = ProxyRequestId.New();
        context.Response.Headers["x-modelmix-request-id"] = requestId;

        // Virtual keys (AuthGate): authenticate before the body is read; null means a 401 was written.
        var caller = await auth.AuthenticateAsync(context, requestId, AnthropicDialect.Instance);
        if (caller is null)
        {
            return;
        }

        var body = await reader.ReadBodyAsync(context, AnthropicDialect.Instance);
        if (body is null)
        {
            await pipeline.RecordRefusalAsync(context, requestId, caller, model: null);
            return;
        }

        if (!MessagesRequest.TryParse(body, out var request, out var error))
        {
            await AnthropicError.WriteAsync(context, 400, error!, requestId: requestId);
            await pipeline.RecordRefusalAsync(context, requestId, caller, model: null);
            return;
        }

        (body, request) = router.WithCatalogName(body, request!); // one spelling per model (CLAUDE-HAIKU-4-5 → claude-haiku-4-5)

        if (BatchQueue.Wants(context))
        {
            // x-modelmix-batch: true — queued for the Message Batches API, answered 202 with the job (BatchQueue.cs).
            await _batches.Value.EnqueueSingleAsync(context, requestId, body, request!, caller);
            return;
        }

        await pipeline.ForwardAsync(context, requestId, body, request!, AnthropicDialect.Instance, caller);
    }
}
