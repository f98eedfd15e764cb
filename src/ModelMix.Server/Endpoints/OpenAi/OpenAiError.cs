using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace ModelMix.Server.OpenAi;

/// <summary>
/// Errors in the OpenAI API's shape, <c>{"error":{"message","type","param","code"}}</c>, so OpenAI clients raise them as
/// they would the API's own; upstream Anthropic errors keep their Anthropic type in <c>code</c>.
/// </summary>
internal static class OpenAiError
{
    /// <summary>
    /// The status an OpenAI client gets for an Anthropic status: the same, except 529 (overloaded, which OpenAI does
    /// not use) becomes 503. Both are retried by the OpenAI SDKs.
    /// </summary>
    public static int StatusFor(int anthropicStatus) => anthropicStatus == 529 ? 503 : anthropicStatus;

    /// <summary>The OpenAI error type for a status: <c>rate_limit_error</c> for 429, <c>server_error</c> for 5xx, else <c>invalid_request_error</c>.</summary>
    public static string TypeFor(int status) => status switch
    {
        429 => "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };

    /// <summary>Serializes <c>{"error":{"message":…,"type":…,"param":…,"code":…}}</c>.</summary>
    public static byte[] Body(string message, string type, string? param, string? code)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            WriteError(json, message, type, param, code);
        }

        return buffer.ToArray();
    }

    /// <summary>The SSE event that ends a stream with an error: <c>data: {"error":{…}}</c>, as the OpenAI API sends it.</summary>
    public static byte[] StreamEvent(string message, string type, string? code)
    {
        using var buffer = new MemoryStream();
        buffer.Write("data: "u8);
        using (var json = new Utf8JsonWriter(buffer))
        {
            WriteError(json, message, type, null, code);
        }

        buffer.Write("\n\n"u8);
        return buffer.ToArray();
    }

    /// <summary>
    /// Writes an error response; the type follows the status unless given. OpenAI's error body has no request id: the
    /// request's id is in the <c>x-modelmix-request-id</c> header (given here if the request had none yet).
    /// </summary>
    public static async Task WriteAsync(HttpContext context, int status, string message, string? param = null, string? code = null, string? type = null)
    {
        if (context.Response.HasStarted)
        {
            return;
        }

        _ = ProxyRequestId.For(context);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        ProxyRefusals.Observe(context, status, code ?? type ?? TypeFor(status), message); // logged (rate-limited) and counted
        await context.Response.Body.WriteAsync(Body(message, type ?? TypeFor(status), param, code), context.RequestAborted);
    }

    /// <summary>
    /// Translates an Anthropic error body (<c>{"type":"error","error":{"type","message"}}</c>) into the OpenAI shape;
    /// a body that is not one keeps its text as the message.
    /// </summary>
    public static byte[] FromAnthropic(int anthropicStatus, ReadOnlySpan<byte> body)
    {
        var (type, message) = ReadAnthropic(body);
        var status = StatusFor(anthropicStatus);
        return Body(message ?? $"The upstream API answered HTTP {anthropicStatus}.", TypeFor(status), null, type ?? AnthropicError.TypeFor(anthropicStatus));
    }

    /// <summary>Reads <c>error.type</c> and <c>error.message</c> of an Anthropic error body or stream event.</summary>
    public static (string? Type, string? Message) ReadAnthropic(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                var type = error.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                return (type, message);
            }
        }
        catch (JsonException)
        {
        }

        return (null, body.IsEmpty ? null : System.Text.Encoding.UTF8.GetString(body));
    }

    private static void WriteError(Utf8JsonWriter json, string message, string type, string? param, string? code)
    {
        json.WriteStartObject();
        json.WriteStartObject("error");
        json.WriteString("message", message);
        json.WriteString("type", type);
        WriteNullable(json, "param", param);
        WriteNullable(json, "code", code);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }
}
