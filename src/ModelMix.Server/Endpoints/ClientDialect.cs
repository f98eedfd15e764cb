using System.Buffers;
using Microsoft.AspNetCore.Http;

namespace ModelMix.Server;

/// <summary>
/// The API the client speaks: how errors, buffered answers and streams are written back to it. The upstream call,
/// its retries and its ledger records are the same whatever the dialect.
/// </summary>
internal interface IClientDialect
{
    /// <summary>Writes an error the proxy itself produced (validation, size, upstream unreachable or timed out).</summary>
    Task WriteErrorAsync(HttpContext context, int status, string message, string? type, string? requestId);

    /// <summary>Writes a complete upstream answer: a message or an upstream error.</summary>
    Task WriteBufferedAsync(HttpContext context, UpstreamResult result, string requestId);

    /// <summary>A translator for one stream, or null to relay the upstream's events byte for byte.</summary>
    IStreamTranslator? CreateStreamTranslator();
}

/// <summary>Turns the bytes of an Anthropic event stream, as they arrive, into the client's stream format.</summary>
internal interface IStreamTranslator
{
    /// <summary>Writes what the client receives for the next chunk of upstream bytes (possibly nothing yet).</summary>
    void Translate(ReadOnlySpan<byte> upstream, IBufferWriter<byte> output);

    /// <summary>The event that ends a stream the proxy could not finish.</summary>
    byte[] ErrorEvent(string type, string message);
}

/// <summary>The Anthropic Messages API itself: everything relayed as it came.</summary>
internal sealed class AnthropicDialect : IClientDialect
{
    public static readonly AnthropicDialect Instance = new();

    public Task WriteErrorAsync(HttpContext context, int status, string message, string? type, string? requestId) =>
        AnthropicError.WriteAsync(context, status, message, type, requestId);

    public Task WriteBufferedAsync(HttpContext context, UpstreamResult result, string requestId) => AnswerRelay.WriteBufferedAsync(context, result);

    public IStreamTranslator? CreateStreamTranslator() => null;
}
