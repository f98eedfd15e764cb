using Microsoft.Extensions.Logging;

namespace ModelMix.Server;

/// <summary>The proxy's log messages (source-generated, so they cost nothing when the level is off).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Warning, "No upstream API key is set (ANTHROPIC_API_KEY or ModelMix:UpstreamApiKey): ModelMix starts, but upstream calls will fail with 401 until one is set.")]
    public static partial void NoUpstreamKey(ILogger logger);

    [LoggerMessage(2, LogLevel.Information, "ModelMix proxy forwarding to {Upstream}; ledger {Db}; price book {Prices}.")]
    public static partial void Started(ILogger logger, Uri upstream, string db, string prices);

    [LoggerMessage(40, LogLevel.Information, "Socket completions run {Where} (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS={Value}).")]
    public static partial void SocketCompletions(ILogger logger, string where, string value);

    [LoggerMessage(41, LogLevel.Information, "Requests are processed {Where} (ModelMix:InlineScheduling={Value}, ModelMix:InlineConnections={Connections}).")]
    public static partial void RequestScheduling(ILogger logger, string where, bool value, int connections);

    [LoggerMessage(3, LogLevel.Warning, "Attempt {Attempt} of request {RequestId} to {Model} failed: {ErrorType} (HTTP {Status}).")]
    public static partial void AttemptFailed(ILogger logger, int attempt, string requestId, string model, string errorType, int status);

    [LoggerMessage(4, LogLevel.Warning, "Request {RequestId}: {Model} has no price in the model catalog; its attempts are recorded with their tokens and no cost (status unpriced) until a price is added with ModelMix:Prices (said once per model).")]
    public static partial void Unpriced(ILogger logger, string requestId, string model);

    [LoggerMessage(5, LogLevel.Warning, "Request {RequestId}: the upstream stream from {Model} ended before message_stop ({Reason}); the client got an error event.")]
    public static partial void StreamCut(ILogger logger, string requestId, string model, string reason);

    [LoggerMessage(6, LogLevel.Error, "Unhandled error while serving {Path}.")]
    public static partial void Unhandled(ILogger logger, Exception exception, string path);

    [LoggerMessage(7, LogLevel.Information, "Request {RequestId}: client disconnected during the answer of {Model}.")]
    public static partial void ClientGone(ILogger logger, string requestId, string model);

    [LoggerMessage(70, LogLevel.Warning, "A client hung up while ModelMix:MaxOrphanedCalls ({Limit}) upstream calls were already running for clients that left: this call is stopped and recorded with an estimated usage (docs/ledger.md).")]
    public static partial void OrphanLimit(ILogger logger, int limit);

    [LoggerMessage(71, LogLevel.Warning, "Request {RequestId}: the upstream stream from {Model} sent nothing for {Idle} (ModelMix:StreamIdleTimeout); the stream is ended with an error event and the attempt recorded.")]
    public static partial void StreamIdle(ILogger logger, string requestId, string model, TimeSpan idle);

    [LoggerMessage(72, LogLevel.Warning, "Request {RequestId}: the client left and the orphaned stream from {Model} went past its bounds ({Reason}); it is stopped and recorded with an estimated usage.")]
    public static partial void OrphanStopped(ILogger logger, string requestId, string model, string reason);
}
