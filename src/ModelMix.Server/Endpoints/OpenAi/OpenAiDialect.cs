using Microsoft.AspNetCore.Http;

namespace ModelMix.Server.OpenAi;

/// <summary>
/// Writes the answers of one Chat Completions request in the OpenAI API's format: messages as <c>chat.completion</c>,
/// streams as <c>chat.completion.chunk</c> events, errors as <c>{"error":{…}}</c> with OpenAI statuses.
/// </summary>
internal sealed class OpenAiDialect : IClientDialect
{
    private readonly bool _includeUsage;
    private readonly long _created;

    /// <param name="includeUsage">Whether a stream ends with a usage chunk.</param>
    /// <param name="created">The Unix time stamped on the completion (<c>created</c>).</param>
    public OpenAiDialect(bool includeUsage, long created)
    {
        _includeUsage = includeUsage;
        _created = created;
    }

    /// <inheritdoc />
    public Task WriteErrorAsync(HttpContext context, int status, string message, string? type, string? requestId) =>
        OpenAiError.WriteAsync(context, OpenAiError.StatusFor(status), message, code: type ?? AnthropicError.TypeFor(status));

    /// <inheritdoc />
    public Task WriteBufferedAsync(HttpContext context, UpstreamResult result, string requestId) =>
        WriteBufferedAsync(context, result, message => OpenAiResponseTranslator.Translate(message, _created));

    /// <summary>
    /// Writes a complete upstream answer to an OpenAI client: a 2xx message through <paramref name="translate"/>, an
    /// upstream error in OpenAI's error shape (<see cref="OpenAiError.FromAnthropic"/>); the relayable headers are kept.
    /// Shared by <c>/v1/chat/completions</c> and <c>/v1/responses</c>.
    /// </summary>
    internal static async Task WriteBufferedAsync(HttpContext context, UpstreamResult result, Func<byte[], byte[]> translate)
    {
        var response = context.Response;
        byte[] body;
        int status;
        if (result.Status is >= 200 and < 300)
        {
            status = result.Status;
            body = translate(result.Body);
        }
        else
        {
            status = OpenAiError.StatusFor(result.Status);
            body = OpenAiError.FromAnthropic(result.Status, result.Body);
        }

        response.StatusCode = status;
        foreach (var (name, value) in result.Headers)
        {
            if (!string.Equals(name, "content-type", StringComparison.OrdinalIgnoreCase))
            {
                response.Headers[name] = value;
            }
        }

        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        try
        {
            await response.Body.WriteAsync(body, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left; the attempt is already in the ledger.
        }
    }

    /// <inheritdoc />
    public IStreamTranslator CreateStreamTranslator() => new OpenAiStreamTranslator(_includeUsage, _created);
}
