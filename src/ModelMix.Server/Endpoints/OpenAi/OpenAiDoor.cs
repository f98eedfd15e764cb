using Microsoft.AspNetCore.Http;

namespace ModelMix.Server.OpenAi;

/// <summary>
/// What both OpenAI endpoints do around their translation: stamp the request id, authenticate the virtual key, read the
/// body, translate it (a 400 in OpenAI's shape when it cannot be), check the Messages body, and hand it to
/// <see cref="ProxyPipeline.ForwardAsync"/> with the endpoint's dialect.
/// </summary>
internal static class OpenAiDoor
{
    /// <summary>The first <c>anthropic-version</c> that removed <c>temperature</c> and <c>top_p</c>.</summary>
    private const string SamplingRemovedVersion = "2026-10-21";

    /// <summary>Translates a body; <c>dropSampling</c> is true under an <c>anthropic-version</c> that removed the sampling parameters.</summary>
    public delegate (byte[] AnthropicBody, IClientDialect Dialect) Translation(byte[] body, bool dropSampling);

    /// <summary>
    /// Stamps a new request id on the response: <c>x-modelmix-request-id</c>, and <c>x-request-id</c> where OpenAI's SDKs
    /// read it (<c>error.requestID</c>, <c>_request_id</c>).
    /// </summary>
    public static string Start(HttpContext context)
    {
        var requestId = ProxyRequestId.New();
        context.Response.Headers["x-modelmix-request-id"] = requestId;
        context.Response.Headers["x-request-id"] = requestId;
        return requestId;
    }

    /// <summary>Serves one request; <paramref name="errors"/> writes the errors met before the translation.</summary>
    public static async Task ServeAsync(HttpContext context, OpenAiDoorSteps steps, IClientDialect errors, Translation translate)
    {
        var requestId = Start(context);

        // Virtual keys: the same gate as /v1/messages, answering 401 in OpenAI's shape.
        var caller = await steps.Auth.AuthenticateAsync(context, requestId, errors);
        if (caller is null)
        {
            return;
        }

        var body = await steps.Reader.ReadBodyAsync(context, errors);
        if (body is null)
        {
            return;
        }

        // Versions are dates, so they compare as strings.
        var dropSampling = string.CompareOrdinal(steps.Reader.AnthropicVersionOf(context), SamplingRemovedVersion) >= 0;
        (byte[] AnthropicBody, IClientDialect Dialect) translated;
        try
        {
            translated = translate(body, dropSampling);
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

        var (anthropicBody, canonical) = steps.Router.WithCatalogName(translated.AnthropicBody, request!); // one spelling per model
        await steps.Pipeline.ForwardAsync(context, requestId, anthropicBody, canonical, translated.Dialect, caller);
    }
}

/// <summary>The shared steps both OpenAI endpoints run: the key check, the body read, the model's catalog spelling, the pipeline.</summary>
internal sealed record OpenAiDoorSteps(AuthGate Auth, ProxyRequestReader Reader, ProxyRouter Router, ProxyPipeline Pipeline);
