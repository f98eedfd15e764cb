using Microsoft.AspNetCore.Http;
using ModelMix.Keys;

namespace ModelMix.Server;

/// <summary>
/// Authenticates proxy requests with virtual keys (<c>x-api-key</c> or <c>Authorization: Bearer</c>). Once any key
/// that is not revoked exists — or whenever the proxy listens beyond loopback — a request without a valid key gets
/// 401 <c>authentication_error</c>. The presented key is only hashed and compared: it is never forwarded upstream,
/// logged or stored (the ledger gets the key's public id).
/// </summary>
internal sealed class AuthGate(SqliteKeyStore keys, AuthBinding binding)
{
    /// <summary>The caller, or null after a 401 was written.</summary>
    public async ValueTask<AuthCaller?> AuthenticateAsync(HttpContext context, string requestId, MessagesForwarder.IClientDialect dialect)
    {
        var presented = Presented(context.Request.Headers);
        if (presented is not null && await keys.AuthenticateAsync(presented, context.RequestAborted) is { } key)
        {
            return new AuthCaller(key);
        }

        if (binding.LoopbackOnly && !await keys.HasActiveKeysAsync(context.RequestAborted))
        {
            return AuthCaller.Anonymous;
        }

        var message = presented is null
            ? "This ModelMix proxy requires a virtual API key: send it in the x-api-key header or as Authorization: Bearer mmx-…. An operator creates one with `modelmix keys create --name NAME`."
            : "The API key is not a valid ModelMix virtual key (unknown, malformed or revoked). Send a key made by `modelmix keys create` in x-api-key or Authorization: Bearer.";
        await dialect.WriteErrorAsync(context, 401, message, "authentication_error", requestId);
        return null;
    }

    /// <summary>The key the client presented: <c>x-api-key</c> if it looks like a ModelMix key, else a bearer token.</summary>
    private static string? Presented(IHeaderDictionary headers)
    {
        string? fallback = null;
        if (headers["x-api-key"].ToString() is { Length: > 0 } apiKey)
        {
            if (apiKey.StartsWith(ApiKeySecret.Prefix, StringComparison.Ordinal))
            {
                return apiKey;
            }

            fallback = apiKey;
        }

        var authorization = headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization[7..].Trim() is { Length: > 0 } token)
        {
            return token;
        }

        return fallback;
    }
}
