using Microsoft.AspNetCore.Http;

namespace ModelMix.Server;

/// <summary>
/// The session a proxy request belongs to (loop guard, session budgets, cache- and thinking-aware routing,
/// per-conversation cost): <c>x-modelmix-session</c>, else the <c>x-claude-code-session-id</c> Claude Code sends with
/// every request of a conversation, so Claude Code works out of the box.
/// </summary>
internal static class ProxySession
{
    /// <summary>ModelMix's own session header.</summary>
    public const string Header = "x-modelmix-session";

    /// <summary>The session header Claude Code sends.</summary>
    public const string ClaudeCodeHeader = "x-claude-code-session-id";

    /// <summary>The request's session id, or null when it names none.</summary>
    public static string? Of(HttpRequest request) =>
        request.Headers[Header].ToString() is { Length: > 0 } session ? session
        : request.Headers[ClaudeCodeHeader].ToString() is { Length: > 0 } claudeCode ? claudeCode
        : null;
}
