using Microsoft.Extensions.Logging;

namespace ModelMix.Ledger;

/// <summary>Opens a <see cref="BufferedLedger"/> on a SQLite file.</summary>
public static class SqliteBufferedLedgerExtensions
{
    extension(BufferedLedger)
    {
        /// <summary>
        /// Opens (creating if needed) the SQLite ledger at <paramref name="path"/>, migrates it and starts the writer.
        /// Disposing the returned ledger flushes it and closes the database.
        /// </summary>
        /// <param name="path">The database file, e.g. <see cref="SqliteLedgerStore.DefaultPath"/>.</param>
        /// <param name="options">Writer options; the defaults when <c>null</c>.</param>
        /// <param name="time">The clock; <see cref="TimeProvider.System"/> when <c>null</c>.</param>
        /// <param name="loggers">Creates the loggers; nothing is logged when <c>null</c>.</param>
        /// <param name="ct">Cancels opening and migrating.</param>
        public static Task<BufferedLedger> OpenSqliteAsync(
            string path,
            LedgerOptions? options = null,
            TimeProvider? time = null,
            ILoggerFactory? loggers = null,
            CancellationToken ct = default) =>
            BufferedLedger.OpenOwnedAsync(new SqliteLedgerStore(path, loggers?.CreateLogger<SqliteLedgerStore>()), options, time, loggers, ct);
    }
}
