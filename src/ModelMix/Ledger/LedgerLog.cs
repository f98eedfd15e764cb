using Microsoft.Extensions.Logging;

namespace ModelMix.Ledger;

/// <summary>Source-generated log messages of the ledger.</summary>
internal static partial class LedgerLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Ledger database '{Path}' migrated to schema version {Version}.")]
    public static partial void MigrationApplied(ILogger logger, string path, int version);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Ledger commit of {Count} records failed (attempt {Attempt}); retrying in {Delay}. The records stay buffered.")]
    public static partial void WriteFailed(ILogger logger, Exception exception, int count, int attempt, TimeSpan delay);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information, Message = "Ledger commit of {Count} records succeeded after {Attempts} attempts.")]
    public static partial void WriteRecovered(ILogger logger, int count, int attempts);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Critical, Message = "The ledger writer stopped: {Count} buffered records could not be committed.")]
    public static partial void WriterFaulted(ILogger logger, Exception exception, int count);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Critical, Message = "The ledger stopped without committing {Count} record(s) and {Settlements} budget settlement(s): the store did not take them within {Timeout}. Attempts that journaled an intent are settled as outcome_unknown by reconciliation (docs/ledger.md, \"Crash consistency\"); the others are not in the ledger.")]
    public static partial void StopAbandoned(ILogger logger, int count, int settlements, TimeSpan timeout);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Ledger WAL checkpoint of '{Path}' failed; the WAL keeps every commit and the next checkpoint tries again.")]
    public static partial void CheckpointFailed(ILogger logger, string path, Exception exception);
}
