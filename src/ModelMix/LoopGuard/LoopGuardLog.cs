using Microsoft.Extensions.Logging;

namespace ModelMix.Pipeline;

/// <summary>Source-generated log messages of <see cref="LoopGuardChatClient"/>.</summary>
internal static partial class LoopGuardLog
{
    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "Loop guard tripped for session {SessionId}: {Limit} observed {Observed}, limit {LimitValue}.")]
    public static partial void Tripped(ILogger logger, string sessionId, LoopGuardLimit limit, decimal observed, decimal limitValue);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "Loop guard could not price a response of {Model}; its spend is not counted.")]
    public static partial void Unpriced(ILogger logger, Exception exception, string model);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Error, Message = "Recording the loop guard trip of session {SessionId} in the ledger failed.")]
    public static partial void RecordFailed(ILogger logger, Exception exception, string sessionId);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Warning, Message = "{Section}: the key {Key} is an old name, accepted for this release only: {Instead}.")]
    public static partial void ObsoleteKey(ILogger logger, string section, string key, string instead);
}
