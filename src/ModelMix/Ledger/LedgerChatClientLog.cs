using Microsoft.Extensions.Logging;

namespace ModelMix.Pipeline;

/// <summary>Source-generated log messages of <see cref="LedgerChatClient"/>.</summary>
internal static partial class LedgerChatClientLog
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Error, Message = "Recording attempt {Attempt} of request {RequestId} ({Model}) in the ledger failed; the caller's call is unaffected.")]
    public static partial void RecordFailed(ILogger logger, Exception exception, string requestId, int attempt, string model);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Request {RequestId}: model {Model} has no price in the model catalog; its attempts are recorded with their tokens and no cost (status unpriced) until a price is added (said once per model).")]
    public static partial void Unpriced(ILogger logger, string requestId, string model);
}
