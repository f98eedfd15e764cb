using Microsoft.Extensions.Logging;

namespace ModelMix.Ledger;

/// <summary>Source-generated log messages of ledger retention (docs/ledger.md, "Automatic retention").</summary>
internal static partial class LedgerRetentionLog
{
    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Ledger retention: raw rows before {Cut} (older than {RawAge}) are exported to {Folder} and pruned; rollups are kept.")]
    public static partial void Starting(ILogger logger, string cut, TimeSpan rawAge, string folder);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Ledger retention: another process holds the retention lock; this run is skipped.")]
    public static partial void Locked(ILogger logger);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Information, Message = "Ledger retention: exported {Rows} raw rows of [{From}, {To}) to {File} (${Cost}, sha256 {Sha256}).")]
    public static partial void Published(ILogger logger, long rows, string from, string to, string file, string cost, string sha256);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "Ledger retention: pruned {Deleted} raw rows of {File} (${Cost}; {Partitions} partition(s) dropped whole).")]
    public static partial void Pruned(ILogger logger, long deleted, string file, string cost, int partitions);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Information, Message = "Ledger retention: run done in {Elapsed}: {Files} file(s), {Exported} rows exported, {Pruned} rows pruned; raw rows now from {RawFrom}.")]
    public static partial void Done(ILogger logger, TimeSpan elapsed, int files, long exported, long pruned, string rawFrom);

    [LoggerMessage(EventId = 4106, Level = LogLevel.Error, Message = "Ledger retention failed ({Error}: {Message}); nothing exported is lost, the run is tried again in {Interval}.")]
    public static partial void Failed(ILogger logger, Exception exception, string error, string message, TimeSpan interval);

    [LoggerMessage(EventId = 4107, Level = LogLevel.Information, Message = "Ledger retention: exporting {File}: {Rows} rows so far, through {Through}.")]
    public static partial void Exporting(ILogger logger, string file, long rows, string through);

    [LoggerMessage(EventId = 4108, Level = LogLevel.Warning, Message = "Ledger retention: resuming {File}, left unfinished by an interrupted run.")]
    public static partial void Resuming(ILogger logger, string file);

    [LoggerMessage(EventId = 4109, Level = LogLevel.Information, Message = "Ledger retention is off (ModelMix:Ledger:Retention:Enabled): raw ledger rows are kept until pruned by hand (modelmix ledger prune).")]
    public static partial void Off(ILogger logger);
}
