using Microsoft.Extensions.Logging;

namespace ModelMix.Shadow;

internal static partial class ShadowLog
{
    [LoggerMessage(EventId = 60, Level = LogLevel.Warning, Message = "Shadow pair {PairId}: the shadow call failed ({Failure}); the caller was not affected")]
    public static partial void ShadowFailed(ILogger logger, string pairId, string failure);

    [LoggerMessage(EventId = 61, Level = LogLevel.Warning, Message = "Shadow pair {PairId}: the judge call failed ({Failure})")]
    public static partial void JudgeFailed(ILogger logger, string pairId, string failure);

    [LoggerMessage(EventId = 62, Level = LogLevel.Error, Message = "Shadow pair {PairId}: the shadow job failed")]
    public static partial void JobFailed(ILogger logger, Exception exception, string pairId);

    [LoggerMessage(EventId = 63, Level = LogLevel.Warning, Message = "Shadow budget exhausted ({Refusal}); sampling stops until {Until}")]
    public static partial void BudgetExhausted(ILogger logger, string refusal, string until);

    [LoggerMessage(EventId = 64, Level = LogLevel.Debug, Message = "Shadow queue full: pair {PairId} dropped")]
    public static partial void Dropped(ILogger logger, string pairId);

    [LoggerMessage(EventId = 65, Level = LogLevel.Warning, Message = "Shadow jobs cancelled at stop did not end in time; their calls' intents, if journaled, are reconciled as outcome_unknown")]
    public static partial void StopTimedOut(ILogger logger);

    [LoggerMessage(EventId = 66, Level = LogLevel.Information, Message = "Shadow pair {PairId}: cancelled by the stop (its calls are recorded)")]
    public static partial void Cancelled(ILogger logger, string pairId);
}
