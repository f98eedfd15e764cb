using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace ModelMix.Server;

/// <summary>
/// The proxy's endpoints, mapped once for both hosts: <c>modelmix serve</c> (<see cref="ProxyApplication.MapEndpoints"/>)
/// and an app's own ASP.NET Core host (<see cref="ModelMix.AspNetCore.ModelMixProxyExtensions.MapModelMix"/>). Each
/// carries <see cref="ProxyEndpointMarker"/> (and the OpenAI-compatible ones <see cref="OpenAiEndpoint"/>: the API an error
/// is written in, whatever prefix the endpoints are mapped under; <see cref="ProxyEndpointConventions"/>).
/// </summary>
internal static class ProxyEndpoints
{
    /// <summary>Maps the API endpoints, and <c>/dashboard</c> and <c>/metrics</c> when asked, in one group.</summary>
    public static RouteGroupBuilder Map(IEndpointRouteBuilder endpoints, bool dashboard, bool metrics)
    {
        var group = endpoints.MapGroup(string.Empty);
        group.WithMetadata(ProxyEndpointMarker.Instance);
        // The proxying endpoints take their singleton handlers from the root provider: a handler parameter would be
        // resolved through HttpContext.RequestServices, which opens a DI scope for every request.
        var services = endpoints.ServiceProvider;
        var json = BrowserGuard.JsonBody.Required;
        group.MapPost("/v1/messages", context => services.GetRequiredService<MessagesForwarder>().HandleAsync(context)).WithMetadata(json);
        group.MapPost("/v1/messages/count_tokens", context => services.GetRequiredService<CountTokensForwarder>().HandleAsync(context)).WithMetadata(json);
        group.MapGet("/v1/models", (HttpContext context, ModelsEndpoint models) => models.ListAsync(context));
        group.MapGet("/v1/models/{id}", (HttpContext context, string id, ModelsEndpoint models) => models.GetAsync(context, id));
        group.MapPost("/v1/chat/completions", context => services.GetRequiredService<OpenAi.ChatCompletionsHandler>().HandleAsync(context)).WithMetadata(json, OpenAiEndpoint.Instance);
        group.MapPost("/v1/responses", context => services.GetRequiredService<OpenAi.ResponsesHandler>().HandleAsync(context)).WithMetadata(json, OpenAiEndpoint.Instance);
        group.Map("/v1/responses/{**rest}", context => services.GetRequiredService<OpenAi.ResponsesHandler>().RefuseStatefulAsync(context)).WithMetadata(OpenAiEndpoint.Instance); // stateless: no stored responses
        group.MapPost("/v1/modelmix/batch", (HttpContext context, BatchEndpoints batches) => batches.SubmitAsync(context)).WithMetadata(json);
        group.MapGet("/v1/modelmix/batch/{id}", (HttpContext context, string id, BatchEndpoints batches) => batches.StatusAsync(context, id));
        group.MapGet("/v1/modelmix/batch/{id}/results", (HttpContext context, string id, BatchEndpoints batches) => batches.ResultsAsync(context, id));
        group.MapPost("/v1/modelmix/batch/{id}/cancel", (HttpContext context, string id, BatchEndpoints batches) => batches.CancelAsync(context, id)).WithMetadata(BrowserGuard.JsonBody.IfAny);
        if (metrics)
        {
            ProxyTelemetry.MapEndpoints(group); // GET /metrics
        }

        if (dashboard)
        {
            Dashboard.DashboardEndpoint.Map(group); // GET /dashboard (Dashboard/)
        }

        return group;
    }
}

/// <summary>Endpoint metadata: the endpoint is one of the proxy's.</summary>
internal sealed class ProxyEndpointMarker
{
    public static readonly ProxyEndpointMarker Instance = new();

    private ProxyEndpointMarker()
    {
    }
}
