using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace ModelMix.Server.OpenAi;

/// <summary>
/// Writes the answers of one Responses API request in OpenAI's format: messages as a <c>response</c> object, streams as
/// the Responses streaming events, errors as <c>{"error":{…}}</c> with OpenAI statuses (as on <c>/v1/chat/completions</c>).
/// </summary>
internal sealed class ResponsesDialect : IClientDialect
{
    private readonly long _createdAt;
    private readonly JsonObject _echo;

    /// <param name="createdAt">The Unix time stamped on the response (<c>created_at</c>).</param>
    /// <param name="echo">The request's parameters as the response repeats them.</param>
    public ResponsesDialect(long createdAt, JsonObject echo)
    {
        _createdAt = createdAt;
        _echo = echo;
    }

    /// <inheritdoc />
    public Task WriteErrorAsync(HttpContext context, int status, string message, string? type, string? requestId) =>
        OpenAiError.WriteAsync(context, OpenAiError.StatusFor(status), message, code: type ?? AnthropicError.TypeFor(status));

    /// <inheritdoc />
    public Task WriteBufferedAsync(HttpContext context, UpstreamResult result, string requestId) =>
        OpenAiDialect.WriteBufferedAsync(context, result, message => ResponsesResponseTranslator.Translate(message, _createdAt, _echo));

    /// <inheritdoc />
    public IStreamTranslator CreateStreamTranslator() => new ResponsesStreamTranslator(_createdAt, _echo);
}
