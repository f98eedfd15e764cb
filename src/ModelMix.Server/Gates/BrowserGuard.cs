using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ModelMix.Server;

/// <summary>
/// Refuses what a web page can make a browser send to the proxy. Without keys the proxy spends the upstream key for
/// anyone who reaches it, and a page open in the developer's browser reaches loopback too: by a <c>no-cors</c> or
/// form POST (the browser sends those without asking), or by DNS rebinding (the page's own name, re-pointed at
/// 127.0.0.1, so its requests are same-origin). Three checks, before any endpoint runs:
/// <list type="number">
/// <item><b>Host</b> — in open mode (no keys, loopback only) the request must be addressed to a loopback name
/// (<c>localhost</c>, <c>*.localhost</c>, 127.0.0.0/8, <c>[::1]</c>) or a name in <see cref="ProxyOptions.AllowedHosts"/>:
/// a rebinding page's requests carry its own name. Once keys exist, checked only when AllowedHosts is set (such a page
/// has no key, and a deployment's names are its own).</item>
/// <item><b>Origin</b> — a request that carries one (browsers send it on every POST and every CORS request) must come
/// from the proxy's own origin or one in <see cref="ProxyOptions.AllowedOrigins"/>. SDKs and CLIs send none.</item>
/// <item><b>Content type</b> — the JSON endpoints need <c>content-type: application/json</c> (as the Anthropic API does):
/// a form or <c>no-cors</c> POST can only send <c>text/plain</c>, form or multipart bodies.</item>
/// </list>
/// A refusal is an error in the endpoint's own shape (Anthropic, or OpenAI on <c>/v1/chat/completions</c>) with a
/// request id, logged and counted like every refusal (<see cref="ProxyRefusals"/>). Nothing is read or recorded: the
/// caller is not yet authenticated.
/// </summary>
internal sealed class BrowserGuard
{
    private readonly AuthGate _auth;
    private readonly HashSet<string> _hosts;
    private readonly HashSet<string> _origins;

    public BrowserGuard(IOptions<ProxyOptions> options, AuthGate auth)
    {
        _auth = auth;
        _hosts = new HashSet<string>(options.Value.AllowedHosts.Select(host => host.Trim().TrimStart('[').TrimEnd(']').TrimEnd('.')), StringComparer.OrdinalIgnoreCase);
        _origins = new HashSet<string>(options.Value.AllowedOrigins.Select(NormalizeOrigin).OfType<string>(), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Endpoint metadata: the endpoint reads a JSON body (<see cref="Required"/>), or takes none but refuses any other kind (<see cref="IfAny"/>).</summary>
    internal sealed class JsonBody
    {
        /// <summary><c>content-type: application/json</c> is required.</summary>
        public static readonly JsonBody Required = new(required: true);

        /// <summary>No content type is fine (the endpoint reads no body); any other than JSON is refused.</summary>
        public static readonly JsonBody IfAny = new(required: false);

        private JsonBody(bool required) => IsRequired = required;

        public bool IsRequired { get; }
    }

    /// <summary>Runs the checks, then <paramref name="next"/>; or writes the refusal.</summary>
    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (!HostAllowed(request.Host.Value) && !request.Path.Equals("/healthz", StringComparison.OrdinalIgnoreCase)) // a probe's Host is an address; /healthz says only "ok"
        {
            if (_hosts.Count > 0)
            {
                return RefuseHostAsync(context, open: false);
            }

            var open = _auth.IsOpenAsync(context.RequestAborted);
            if (!open.IsCompletedSuccessfully)
            {
                return CheckHostSlowlyAsync(context, next, open);
            }

            if (open.Result)
            {
                return RefuseHostAsync(context, open: true);
            }
        }

        return CheckOriginAndTypeAsync(context, next);
    }

    private async Task CheckHostSlowlyAsync(HttpContext context, RequestDelegate next, ValueTask<bool> open)
    {
        if (await open)
        {
            await RefuseHostAsync(context, open: true);
            return;
        }

        await CheckOriginAndTypeAsync(context, next);
    }

    private Task CheckOriginAndTypeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (request.Headers.Origin.ToString() is { Length: > 0 } origin && !OriginAllowed(origin, request.Host.Value))
        {
            return RefuseAsync(
                context,
                403,
                "permission_error",
                $"Requests from web pages are refused unless their origin is allowed: this one came from '{MessagesRequest.Clip(origin)}'. "
                + "A page open in a browser could otherwise spend through this proxy. To let that page call ModelMix, add its origin to ModelMix:AllowedOrigins.");
        }

        if (context.GetEndpoint()?.Metadata.GetMetadata<JsonBody>() is { } json && !IsJson(request.ContentType, json.IsRequired))
        {
            return RefuseAsync(
                context,
                400,
                "invalid_request_error",
                request.ContentType is { Length: > 0 } type
                    ? $"content-type must be application/json, got '{MessagesRequest.Clip(type)}'."
                    : "content-type: application/json is required: the request body must be JSON.");
        }

        return next(context);
    }

    private static Task RefuseHostAsync(HttpContext context, bool open)
    {
        var host = MessagesRequest.Clip(context.Request.Host.Value ?? string.Empty);
        var message = open
            ? $"Without virtual keys ModelMix only serves requests addressed to a loopback name (localhost, 127.0.0.1, [::1]); this one was addressed to '{host}'. "
              + "A web page reaches a local server under its own name through DNS rebinding, so such requests are refused. If the name is yours, add it to ModelMix:AllowedHosts."
            : $"This request was addressed to '{host}', which is neither a loopback name nor in ModelMix:AllowedHosts.";
        return RefuseAsync(context, 403, "permission_error", message);
    }

    private static Task RefuseAsync(HttpContext context, int status, string type, string message) =>
        ProxyApplication.IsOpenAiPath(context)
            ? OpenAi.OpenAiError.WriteAsync(context, status, message, code: type)
            : AnthropicError.WriteAsync(context, status, message, type);

    /// <summary>Whether a <c>Host</c> header value (port ignored) names loopback or an allowed host. No Host (HTTP/1.0) is no browser's.</summary>
    private bool HostAllowed(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return true;
        }

        var name = HostName(value);
        return IsLoopbackName(name) || (_hosts.Count > 0 && _hosts.Contains(name.ToString()));
    }

    /// <summary>The host of a <c>Host</c> value: without the port, an IPv6 literal without its brackets, without a final dot.</summary>
    private static ReadOnlySpan<char> HostName(string value)
    {
        var span = value.AsSpan();
        if (span.StartsWith('['))
        {
            var close = span.IndexOf(']');
            span = close > 0 ? span[1..close] : span[1..];
        }
        else if (span.LastIndexOf(':') is var colon and >= 0)
        {
            span = span[..colon];
        }

        return span.EndsWith('.') ? span[..^1] : span;
    }

    /// <summary><c>localhost</c>, a name under <c>.localhost</c> (browsers resolve those to loopback themselves, RFC 6761), or a loopback address.</summary>
    private static bool IsLoopbackName(ReadOnlySpan<char> name) =>
        name.Equals("127.0.0.1", StringComparison.Ordinal)
        || name.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(name, out var address) && IPAddress.IsLoopback(address));

    /// <summary>The proxy's own origin (same host and port as the request's <c>Host</c>), or an allowed one. <c>null</c> (sandboxed frames, files) never is.</summary>
    private bool OriginAllowed(string origin, string? host)
    {
        var scheme = origin.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0 && host is { Length: > 0 } && origin.AsSpan(scheme + 3).Equals(host, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return _origins.Count > 0 && NormalizeOrigin(origin) is { } normalized && _origins.Contains(normalized);
    }

    /// <summary><c>application/json</c>, with any parameters (<c>; charset=utf-8</c>); when not <paramref name="required"/>, also none at all.</summary>
    private static bool IsJson(string? contentType, bool required)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return !required;
        }

        var span = contentType.AsSpan();
        if (span.IndexOf(';') is var semicolon and >= 0)
        {
            span = span[..semicolon];
        }

        return span.Trim().Equals("application/json", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// An origin as browsers write it (<c>scheme://host[:port]</c>, lower case, no default port, no path), or null when
    /// <paramref name="value"/> is not one (a path, a query, a user, <c>null</c>, <c>*</c>). Any scheme with a host:
    /// <c>http</c>, <c>https</c>, and the origins of extensions and desktop shells (<c>chrome-extension://id</c>,
    /// <c>vscode-webview://id</c>).
    /// </summary>
    internal static string? NormalizeOrigin(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)
            || !value.Contains("://", StringComparison.Ordinal)
            || !Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri)
            || uri.Host.Length == 0
            || (uri.AbsolutePath.Length > 0 && uri.AbsolutePath != "/") || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0)
        {
            return null;
        }

        return uri.GetComponents(UriComponents.SchemeAndServer, UriFormat.UriEscaped).ToLowerInvariant();
    }

    /// <summary>Whether an <see cref="ProxyOptions.AllowedHosts"/> entry is a bare host name or IP address (no scheme, port, path or wildcard).</summary>
    internal static bool IsHostName(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        var trimmed = value.Trim();
        if (trimmed.StartsWith('[') && trimmed.EndsWith(']'))
        {
            return IPAddress.TryParse(trimmed[1..^1], out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        }

        return Uri.CheckHostName(trimmed.TrimEnd('.')) is UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6;
    }
}
