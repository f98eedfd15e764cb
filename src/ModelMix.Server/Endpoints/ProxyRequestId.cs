using Microsoft.AspNetCore.Http;

namespace ModelMix.Server;

/// <summary>ModelMix's own id for a client request (<c>mmx_</c> + a time-ordered UUID), returned in <c>x-modelmix-request-id</c>.</summary>
internal static class ProxyRequestId
{
    /// <summary>The response header that carries the id.</summary>
    public const string HeaderName = "x-modelmix-request-id";

    private const string Prefix = "mmx_";

    /// <summary>A new request id.</summary>
    public static string New() => string.Create(Prefix.Length + 32, ModelMix.Ledger.LedgerIds.NewGuid(DateTimeOffset.UtcNow), static (span, id) =>
    {
        Prefix.CopyTo(span);
        id.TryFormat(span[Prefix.Length..], out _, "N");
    });

    /// <summary>
    /// The id this request was given (its <c>x-modelmix-request-id</c>), or a new one, then set on the response: every
    /// error the proxy writes carries an id, even one written before a handler gave the request its own (a 404, a
    /// refused Host or Origin) or by code that does not pass the id along (the body reader's 413).
    /// </summary>
    public static string For(HttpContext context)
    {
        if (context.Response.Headers[HeaderName].ToString() is { Length: > 0 } given)
        {
            return given;
        }

        var id = New();
        if (!context.Response.HasStarted)
        {
            context.Response.Headers[HeaderName] = id;
        }

        return id;
    }
}
