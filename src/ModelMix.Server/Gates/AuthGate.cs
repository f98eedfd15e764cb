using Microsoft.AspNetCore.Http;
using ModelMix.Keys;

namespace ModelMix.Server;

/// <summary>
/// Authenticates proxy requests with virtual keys (<c>x-api-key</c> or <c>Authorization: Bearer</c>). Once any key
/// that is not revoked exists — or whenever the proxy listens beyond loopback — a request without a valid key gets
/// 401 <c>authentication_error</c>. The presented key is only hashed and compared: it is never forwarded upstream,
/// logged or stored (the ledger gets the key's public id).
/// </summary>
internal sealed class AuthGate(IKeyStore keys, AuthBinding binding, TimeProvider time)
{
    /// <summary>How long "no key exists" is trusted before the store is asked again (the open mode's only query).</summary>
    public static readonly TimeSpan OpenModeRecheck = TimeSpan.FromSeconds(1);

    private volatile bool _keysExist;
    private long _openUntil;

    /// <summary>The caller, or null after a 401 was written.</summary>
    public async ValueTask<AuthCaller?> AuthenticateAsync(HttpContext context, string requestId, IClientDialect dialect)
    {
        var presented = Presented(context.Request.Headers);
        if (presented is not null && await keys.AuthenticateAsync(presented, context.RequestAborted) is { } key)
        {
            // A valid key proves keys exist: from now on the proxy stays secured (see KeysExistAsync), so revoking the
            // last key cannot turn its holder's next request into an anonymous one in open mode.
            if (!_keysExist)
            {
                _keysExist = true;
            }

            return new AuthCaller(key);
        }

        if (binding.LoopbackOnly && !await KeysExistAsync(context.RequestAborted))
        {
            return AuthCaller.Anonymous;
        }

        var message = presented is null
            ? "This ModelMix proxy requires a virtual API key: send it in the x-api-key header or as Authorization: Bearer mmx-…. An operator creates one with `modelmix keys create --name NAME`."
            : "The API key is not a valid ModelMix virtual key (unknown, malformed or revoked). Send a key made by `modelmix keys create` in x-api-key or Authorization: Bearer.";
        await dialect.WriteErrorAsync(context, 401, message, "authentication_error", requestId);
        return null;
    }

    /// <summary>
    /// Whether the proxy serves without keys right now (open mode): it listens on loopback only and no active key
    /// exists. Cheap: the answer is cached as <see cref="KeysExistAsync"/> says.
    /// </summary>
    public ValueTask<bool> IsOpenAsync(CancellationToken cancellationToken)
    {
        if (!binding.LoopbackOnly || _keysExist)
        {
            return ValueTask.FromResult(false);
        }

        var exist = KeysExistAsync(cancellationToken);
        return exist.IsCompletedSuccessfully ? ValueTask.FromResult(!exist.Result) : AwaitAsync(exist);

        static async ValueTask<bool> AwaitAsync(ValueTask<bool> exist) => !await exist;
    }

    /// <summary>
    /// Whether any active key exists, without a database query per request: once keys exist (or a key has
    /// authenticated) the proxy stays secured until restarted (revoking every key does not reopen it, the safe direction); "none yet" is rechecked at most
    /// every <see cref="OpenModeRecheck"/>, so a key created by <c>modelmix keys create</c> takes effect within a second.
    /// </summary>
    private async ValueTask<bool> KeysExistAsync(CancellationToken cancellationToken)
    {
        if (_keysExist)
        {
            return true;
        }

        var now = time.GetTimestamp();
        if (now < Interlocked.Read(ref _openUntil))
        {
            return false;
        }

        if (await keys.HasActiveKeysAsync(cancellationToken))
        {
            _keysExist = true;
            return true;
        }

        Interlocked.Exchange(ref _openUntil, now + (long)(OpenModeRecheck.TotalSeconds * time.TimestampFrequency));
        return false;
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
