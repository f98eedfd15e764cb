using Microsoft.Extensions.Logging;

namespace ModelMix.Pipeline;

/// <summary>Source-generated log messages of <see cref="FallbackChatClient"/>.</summary>
internal static partial class FallbackChatClientLog
{
    [LoggerMessage(EventId = 5201, Level = LogLevel.Information, Message = "Request {RequestId}: retrying {Model} in {Delay} after {Failure}.")]
    public static partial void Retrying(ILogger logger, string requestId, string model, TimeSpan delay, string failure);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Warning, Message = "Request {RequestId}: falling back from {From} to {To} after {Failure}.")]
    public static partial void FallingBack(ILogger logger, string requestId, string from, string to, string failure);
}
