using System.Text;
using Microsoft.AspNetCore.Http;
using ModelMix.Keys;

namespace ModelMix.Server;

/// <summary>
/// Admits an operator to what shows the whole proxy's spend (<c>/dashboard</c>, and <c>/metrics</c> unless
/// <see cref="ProxyOptions.MetricsRequireAdminKey"/> is off): open in open mode (no keys, loopback only), like every
/// endpoint; once keys exist, only with an <b>admin</b> key in <c>x-api-key</c>, as a bearer token, or as the password
/// of HTTP Basic authentication (what a browser prompts for; Prometheus' <c>basic_auth</c>). No key or a bad one gets
/// 401 with <c>WWW-Authenticate: Basic</c>; a valid key that is not admin, 403. Both in Anthropic's error shape, with a
/// request id, counted like every refusal.
/// </summary>
internal sealed class AdminGate(IKeyStore keys, AuthGate auth)
{
    /// <summary>True when the page may be served; otherwise a 401 or 403 was written. <paramref name="what"/> names the page in the message.</summary>
    public async ValueTask<bool> AuthorizeAsync(HttpContext context, string what)
    {
        var presented = Presented(context.Request.Headers);
        if (presented is not null && await keys.AuthenticateAsync(presented, context.RequestAborted) is { } key)
        {
            if (key.IsAdmin)
            {
                return true;
            }

            await AnthropicError.WriteAsync(context, 403, $"{what} needs an admin key, and this key is not one. Create one with `modelmix keys create --name NAME --admin`.", "permission_error");
            return false;
        }

        if (presented is null && await auth.IsOpenAsync(context.RequestAborted))
        {
            return true;
        }

        context.Response.Headers.WWWAuthenticate = "Basic realm=\"ModelMix\", charset=\"UTF-8\"";
        await AnthropicError.WriteAsync(context, 401, $"{what} needs an admin key: send it as x-api-key, as a bearer token, or as the password of HTTP Basic authentication (what a browser asks for).", "authentication_error");
        return false;
    }

    private static string? Presented(IHeaderDictionary headers)
    {
        if (headers["x-api-key"].ToString() is { Length: > 0 } apiKey)
        {
            return apiKey;
        }

        var authorization = headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization[7..].Trim() is { Length: > 0 } token)
        {
            return token;
        }

        if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
                var colon = decoded.IndexOf(':', StringComparison.Ordinal);
                return colon >= 0 && decoded.Length > colon + 1 ? decoded[(colon + 1)..] : null;
            }
            catch (FormatException)
            {
                return string.Empty; // a malformed header is a bad key, never open mode
            }
        }

        return null;
    }
}
