using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace ModelMix.Server;

/// <summary>
/// The body step of every door (<c>/v1/messages</c>, count_tokens, the OpenAI endpoints, batches): reads the request
/// body within <see cref="ProxyOptions.MaxRequestBodyBytes"/>, and what of the client's request goes upstream
/// unchanged (its <c>anthropic-version</c>, <c>anthropic-beta</c> and query string).
/// </summary>
internal sealed class ProxyRequestReader(IOptions<ProxyOptions> options)
{
    private readonly ProxyOptions _options = options.Value;

    /// <summary>The client's query string to forward upstream unchanged (e.g. Claude Code's <c>?beta=true</c>), or null.</summary>
    public static string? QueryOf(HttpContext context) =>
        context.Request.QueryString is { HasValue: true } query && query.Value!.Length > 1 ? query.Value : null;

    /// <summary>The client's <c>anthropic-beta</c> header, forwarded unchanged; null when it sent none.</summary>
    public static string? AnthropicBetaOf(HttpContext context) =>
        context.Request.Headers["anthropic-beta"].ToString() is { Length: > 0 } beta ? beta : null;

    /// <summary>The <c>anthropic-version</c> sent upstream: the client's, else the configured default.</summary>
    public string AnthropicVersionOf(HttpContext context) =>
        context.Request.Headers["anthropic-version"].ToString() is { Length: > 0 } version ? version : _options.DefaultAnthropicVersion;

    /// <summary>One call of a request with only the fields every call has (a cascade tier's: its body has only <c>model</c> rewritten).</summary>
    public CallContext NewCall(HttpContext context, string requestId, MessagesRequest request, byte[] body, Route route, string? sessionId, string? taskLabel, BudgetHold budget, ClientHangups.CallWatch watch) =>
        new(requestId, request, route, body, AnthropicVersionOf(context), AnthropicBetaOf(context), sessionId, taskLabel, budget) { Watch = watch };

    /// <summary>Reads the request body within the size limit; null when an error (413) was written in <paramref name="dialect"/>'s shape.</summary>
    public async ValueTask<byte[]?> ReadBodyAsync(HttpContext context, IClientDialect dialect)
    {
        var limit = _options.MaxRequestBodyBytes;
        if (context.Request.ContentLength is { } declared && declared > limit)
        {
            await dialect.WriteErrorAsync(context, 413, $"Request exceeds the maximum allowed number of bytes ({limit}).", null, null);
            return null;
        }

        var maxFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (maxFeature is { IsReadOnly: false })
        {
            maxFeature.MaxRequestBodySize = limit + 1;
        }

        if (context.Request.ContentLength is { } length)
        {
            // The usual case: the size is declared (and within the limit), so read straight into the final array.
            // Kestrel ends the body at Content-Length and fails a body cut short, so the array is filled exactly.
            var exact = new byte[length];
            try
            {
                await context.Request.Body.ReadExactlyAsync(exact, context.RequestAborted);
                return exact;
            }
            catch (Exception exception) when (exception is Microsoft.AspNetCore.Http.BadHttpRequestException or IOException or OperationCanceledException)
            {
                if (!context.RequestAborted.IsCancellationRequested)
                {
                    await dialect.WriteErrorAsync(context, 400, "The request body ended before it was complete.", "invalid_request_error", null);
                }

                return null;
            }
        }

        using var buffer = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            int read;
            while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
            {
                if (buffer.Length + read > limit)
                {
                    await dialect.WriteErrorAsync(context, 413, $"Request exceeds the maximum allowed number of bytes ({limit}).", null, null);
                    return null;
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException exception) when (exception.StatusCode == 413)
        {
            await dialect.WriteErrorAsync(context, 413, $"Request exceeds the maximum allowed number of bytes ({limit}).", null, null);
            return null;
        }
        catch (Exception exception) when (exception is Microsoft.AspNetCore.Http.BadHttpRequestException or IOException or OperationCanceledException)
        {
            // The client went away (or sent a broken body) before the request was complete: nothing was sent
            // upstream and nothing is owed; answer if the connection is still there, and don't log it as a fault.
            if (!context.RequestAborted.IsCancellationRequested)
            {
                await dialect.WriteErrorAsync(context, 400, "The request body ended before it was complete.", "invalid_request_error", null);
            }

            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.ToArray();
    }
}
