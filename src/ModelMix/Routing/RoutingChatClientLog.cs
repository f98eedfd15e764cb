using Microsoft.Extensions.Logging;

namespace ModelMix.Pipeline;

/// <summary>Source-generated log messages of <see cref="ModelRoutingChatClient"/>.</summary>
internal static partial class RoutingChatClientLog
{
    [LoggerMessage(EventId = 5101, Level = LogLevel.Debug, Message = "Request {RequestId} routed to {Model} by {Policy}: {Reason}")]
    public static partial void Routed(ILogger logger, string? requestId, string model, string policy, string reason);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "Request {RequestId}: no policy in {Policy} decided; the inner client's default model serves it.")]
    public static partial void Undecided(ILogger logger, string? requestId, string policy);
}
