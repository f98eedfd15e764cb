using Microsoft.Extensions.Logging;

namespace ModelMix.Server;

/// <summary>Log messages of keys and budgets (event ids 100–199). None carries a key: only key names and ids.</summary>
internal static partial class AuthLog
{
    [LoggerMessage(101, LogLevel.Warning, "No virtual API keys exist: ModelMix serves without authentication, on loopback only ({Urls}). Create a key with `modelmix keys create --name NAME` to require one.")]
    public static partial void OpenOnLoopback(ILogger logger, string urls);

    [LoggerMessage(102, LogLevel.Information, "Virtual API keys are required: {Count} active key(s).")]
    public static partial void KeysRequired(ILogger logger, int count);

    [LoggerMessage(103, LogLevel.Warning, "Reclaimed {Count} budget reservation(s) left by a process that stopped without settling them.")]
    public static partial void Reconciled(ILogger logger, int count);

    [LoggerMessage(105, LogLevel.Error, "Request {RequestId}: its budget reservation could not be settled; it will be reconciled against the ledger when it expires.")]
    public static partial void SettleFailed(ILogger logger, Exception exception, string requestId);

    [LoggerMessage(106, LogLevel.Warning, "Budget {Scope}: a request held {HeldUsd} and its answer cost {ChargedUsd}{Why}; the key's new requests wait until the requests in flight are settled, then are held at {Factor}x their worst case (docs/keys-and-budgets.md, \"Overshoot\").")]
    public static partial void Overrun(ILogger logger, string scope, decimal heldUsd, decimal chargedUsd, string why, decimal factor);
}
