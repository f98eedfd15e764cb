namespace ModelMix.Routing;

/// <summary>
/// A session is its caller's: two keys that both name a session <c>agent-1</c> have two sessions. Everything that
/// keeps state per session — the loop guard, cache- and thinking-aware routing, the audit's cost per conversation —
/// keys it by <see cref="Of"/>; session budgets are per key too (<c>session:{key}:{session}</c>). The ledger keeps
/// the caller's session id and key id as they were.
/// </summary>
internal static class SessionScope
{
    /// <summary>The separator between key and session: a control character, which no HTTP header value carries.</summary>
    public const char Separator = '\u001f';

    /// <summary>The scoped session of <paramref name="keyId"/>: null without a session, the session itself without a key.</summary>
    /// <param name="keyId">The caller's key id (or caller id), when known.</param>
    /// <param name="sessionId">The session the caller named.</param>
    public static string? Of(string? keyId, string? sessionId) =>
        sessionId is null ? null : keyId is null ? sessionId : string.Concat(keyId, Separator.ToString(), sessionId);
}
