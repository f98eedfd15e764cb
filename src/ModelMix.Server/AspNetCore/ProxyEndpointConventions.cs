using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace ModelMix.Server;

/// <summary>
/// What the proxy's endpoints carry wherever they are mapped — at the root by <c>modelmix serve</c>, or under any route
/// prefix of an app's own (<c>app.MapGroup("/llm").MapModelMix()</c>): the API they speak (endpoint metadata, so an error
/// is written in the caller's shape whatever the path), and, in an app's own host, the proxy's error handling and browser
/// checks wrapped around each endpoint's handler.
/// </summary>
internal static class ProxyEndpointConventions
{
    /// <summary>
    /// Whether the request speaks OpenAI's API: the endpoint it was routed to says so (<see cref="OpenAiEndpoint"/>), under
    /// whatever prefix it is mapped; a request routed to no ModelMix endpoint (an unknown path or method on
    /// <c>modelmix serve</c>) goes by its path (<c>/v1/chat/…</c>, <c>/v1/responses…</c>).
    /// </summary>
    public static bool SpeaksOpenAi(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata is { } metadata && metadata.GetMetadata<ProxyEndpointMarker>() is not null)
        {
            return metadata.GetMetadata<OpenAiEndpoint>() is not null;
        }

        return context.Request.Path.StartsWithSegments("/v1/chat", StringComparison.OrdinalIgnoreCase)
            || context.Request.Path.StartsWithSegments("/v1/responses", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Wraps every endpoint of <paramref name="group"/> in the proxy's error handling (<see cref="ProxyErrors"/>) and browser
    /// checks (<see cref="BrowserGuard"/>), for an app that hosts the endpoints: the app's other endpoints and middleware
    /// stay untouched, and it works under a route prefix (a group has no middleware of its own).
    /// </summary>
    public static void GuardEach(IEndpointConventionBuilder group, IServiceProvider services)
    {
        group.Add(endpoint =>
        {
            if (endpoint.RequestDelegate is not { } handler)
            {
                return;
            }

            ProxyErrors? errors = null;
            BrowserGuard? guard = null;
            RequestDelegate guarded = context => (guard ??= services.GetRequiredService<BrowserGuard>()).InvokeAsync(context, handler);
            endpoint.RequestDelegate = context => (errors ??= services.GetRequiredService<ProxyErrors>()).InvokeAsync(context, guarded);
        });
    }
}

/// <summary>Endpoint metadata: the endpoint speaks OpenAI's API (its errors come in OpenAI's shape).</summary>
internal sealed class OpenAiEndpoint
{
    public static readonly OpenAiEndpoint Instance = new();

    private OpenAiEndpoint()
    {
    }
}
