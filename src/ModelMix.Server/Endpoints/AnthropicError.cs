using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace ModelMix.Server;

/// <summary>Writes errors in the Anthropic API's error shape, so any Anthropic client reports them as it would the API's own.</summary>
internal static class AnthropicError
{
    /// <summary>The error type Anthropic uses for each HTTP status.</summary>
    public static string TypeFor(int status) => status switch
    {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };

    /// <summary>Serializes <c>{"type":"error","error":{"type":…,"message":…},"request_id":…}</c>.</summary>
    public static byte[] Body(string type, string message, string? requestId)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            WriteErrorObject(json, type, message);
            if (requestId is null)
            {
                json.WriteNull("request_id");
            }
            else
            {
                json.WriteString("request_id", requestId);
            }

            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// Writes an error response; the type follows the status unless given. Without <paramref name="requestId"/> the
    /// request's <c>x-modelmix-request-id</c> is used (or a new id is given), so the body's <c>request_id</c> is never null.
    /// </summary>
    public static async Task WriteAsync(HttpContext context, int status, string message, string? type = null, string? requestId = null)
    {
        if (context.Response.HasStarted)
        {
            return;
        }

        requestId ??= ProxyRequestId.For(context);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        ProxyRefusals.Observe(context, status, type ?? TypeFor(status), message); // logged (rate-limited) and counted
        context.Response.Headers["request-id"] = requestId;

        await context.Response.Body.WriteAsync(Body(type ?? TypeFor(status), message, requestId), context.RequestAborted);
    }

    /// <summary>The SSE <c>error</c> event that ends a stream the proxy could not finish.</summary>
    public static byte[] StreamEvent(string type, string message)
    {
        using var buffer = new MemoryStream();
        buffer.Write("event: error\ndata: "u8);
        using (var json = new Utf8JsonWriter(buffer))
        {
            WriteErrorObject(json, type, message);
            json.WriteEndObject();
        }

        buffer.Write("\n\n"u8);
        return buffer.ToArray();
    }

    /// <summary>Opens the top-level object and writes <c>"type":"error"</c> and the <c>error</c> member; the caller closes it.</summary>
    private static void WriteErrorObject(Utf8JsonWriter json, string type, string message)
    {
        json.WriteStartObject();
        json.WriteString("type", "error");
        json.WriteStartObject("error");
        json.WriteString("type", type);
        json.WriteString("message", message);
        json.WriteEndObject();
    }
}
