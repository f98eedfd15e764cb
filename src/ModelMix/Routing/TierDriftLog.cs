using Microsoft.Extensions.Logging;

namespace ModelMix.Routing;

/// <summary>Source-generated log messages of <see cref="TierDriftMonitor"/>.</summary>
internal static partial class TierDriftLog
{
    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "Tier drift: {Tier} took {Share:P1} of the last {WindowCalls} calls, above its bound of {Bound:P1}.")]
    public static partial void Exceeded(ILogger logger, string tier, double share, int windowCalls, double bound);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Tier drift: {Tier} is back to {Share:P1} of the last {WindowCalls} calls, within its bound of {Bound:P1}.")]
    public static partial void Recovered(ILogger logger, string tier, double share, int windowCalls, double bound);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Error, Message = "Tier drift: an alert handler for {Tier} threw; the observed call is unaffected.")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string tier);
}
